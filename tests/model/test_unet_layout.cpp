// The U-Net's parameter layout, its initialisation and the outputs of real model files, pinned
// to values printed by the code before the blocks declared their own parameters (commit
// 6cc7124, this test run on that tree with lavapipe): how the model is described in code may
// change, but not the tensor names, shapes, order and initial values, nor what the bundled
// model and a PyTorch export compute.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "support/run_command.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/model_file.hpp"
#include "tessera/training_step.hpp"
#include "tessera/unet.hpp"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;

// Two level-1 widths that differ from level 0 (skip convs), attention on one level, classes.
constexpr const char* kSmallConfig =
    R"({"base_channels": 16, "channel_mult": [1, 2, 2], "num_res_blocks": 2, "attention_resolutions": [8],
        "num_heads": 2, "norm_groups": 4, "num_classes": 3, "padding": "circular", "train_resolution": 16})";

fs::path bundled_model() { return fs::path(TESSERA_SOURCE_DIR) / "models" / "default.safetensors"; }

struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void add(const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char*>(p)[i]) * 1099511628211ull;
  }
  void add(const std::string& s) { add(s.data(), s.size() + 1); }
  void add(int64_t v) { add(&v, sizeof v); }
};

// Names, shapes and offsets in declaration order.
uint64_t layout_hash(const ParameterSet& p) {
  Fnv f;
  for (const auto& e : p.entries()) {
    f.add(e.name);
    for (int64_t d : e.shape) f.add(d);
    f.add(e.offset);
  }
  f.add(p.flat_elements());
  return f.h;
}

uint64_t initial_weights_hash(Context& ctx, const UNetConfig& config, uint64_t seed) {
  TrainHyperParams hp;
  hp.seed = seed;
  TrainingStep step(ctx, config, 1, config.size_multiple(), hp);
  auto w = step.save_state().weights;
  Fnv f;
  f.add(w.data(), w.size() * sizeof(float));
  return f.h;
}

// A forward pass of `params` on fixed inputs; what the test compares of its output.
std::vector<double> output_fingerprint(Context& ctx, const UNetConfig& config, const ParameterSet& params, int size) {
  const int batch = 2;
  UNet net(ctx, config, params, batch, size, size, false);
  upload_f32(net.input(), random_floats(static_cast<size_t>(net.input().numel()), 5));
  upload_f32(net.timesteps(), std::vector<float>{100.0f, 700.0f});
  if (config.num_classes > 0) upload_u32(net.labels(), std::vector<uint32_t>{1, uint32_t(config.num_classes)});
  CommandSequence seq(ctx);
  net.record_forward(seq);
  seq.run();
  auto out = download_f32(net.output());
  double sum = 0, abs_sum = 0;
  for (float v : out) sum += v, abs_sum += std::fabs(v);
  std::vector<double> print{sum, abs_sum};
  for (size_t i = 0; i < 8; ++i) print.push_back(out[(i * 7919 + 13) % out.size()]);
  return print;
}

// Sums to 1e-4 of the absolute sum, samples to 2e-4: lavapipe reproduces the values exactly,
// another device's rounding stays far inside this, and a miswired tensor falls far outside.
void expect_fingerprint(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  std::string printed;
  char buf[64];
  for (double v : got) std::snprintf(buf, sizeof buf, "%.9g, ", v), printed += buf;
  EXPECT_NEAR(got[0], want[0], 1e-4 * want[1]) << printed;
  EXPECT_NEAR(got[1], want[1], 1e-4 * want[1]) << printed;
  for (size_t i = 2; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 2e-4) << "sample " << i - 2 << ": " << printed;
}

class UNetLayoutTest : public VulkanTest {};

// The init rules are properties of the declarations (the layer that owns a tensor says how it
// starts), and initial_values applies exactly those.
TEST(UNetLayout, LayersDeclareTheInitRules) {
  ParameterSet p;
  UNet::declare_parameters(UNetConfig::from_json(kSmallConfig), p);
  auto has = [](const std::string& s, const char* part) { return s.find(part) != std::string::npos; };
  int checked = 0;
  for (const auto& e : p.entries()) {
    const bool bias = has(e.name, ".bias");
    Init::Kind want = Init::Uniform;
    float bound = e.shape.size() > 1 ? 1.0f / std::sqrt(float(shape_numel(e.shape) / e.shape[0])) : -1.0f;
    if (has(e.name, "norm")) want = bias ? Init::Zero : Init::One;
    if (has(e.name, ".conv2.") || has(e.name, ".proj.") || has(e.name, "conv_out.")) want = Init::Zero;
    if (e.name == "class_embed.weight") bound = std::sqrt(3.0f);
    EXPECT_EQ(e.init.kind, want) << e.name;
    if (want == Init::Uniform && !bias) {
      EXPECT_EQ(e.init.bound, bound) << e.name;
      ++checked;
    }
  }
  EXPECT_GT(checked, 20);
  auto flat = p.initial_values(9, kInitStream);
  for (const auto& e : p.entries())
    for (int64_t i = 0; i < shape_numel(e.shape); ++i) {
      float v = flat[e.offset + i];
      if (e.init.kind == Init::Uniform)
        ASSERT_TRUE(std::fabs(v) <= e.init.bound && v != 0.0f) << e.name;
      else
        ASSERT_EQ(v, e.init.kind == Init::One ? 1.0f : 0.0f) << e.name;
    }
}

// The network checks each parameter it is given against what its blocks declare.
TEST_F(UNetLayoutTest, ParametersOfAnotherModelAreNamed) {
  UNetConfig small = UNetConfig::from_json(kSmallConfig), wider = small;
  wider.base_channels = 32;
  ParameterSet p;
  UNet::declare_parameters(small, p);
  p.allocate(ctx(), false);
  try {
    UNet net(ctx(), wider, p, 1, 16, 16, false);
    FAIL() << "built a network on another model's parameters";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("'time_embed.0.weight' is [64,16], the network needs [128,32]"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(UNetLayoutTest, MeasuredArenaIsAsLargeAsItsTensors) {
  int runs = 0;
  Tensor a, b;
  auto arena = Arena::measured(ctx(), "measured", [&](Arena& m) {
    ++runs;
    a = m.allocate({3, 5}, DType::F32, "a");
    b = m.allocate({7}, DType::U32, "b");
  });
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(a.arena(), arena.get());
  EXPECT_EQ(b.arena(), arena.get());
  EXPECT_EQ(arena->capacity(), Arena::kAlignment * 2);  // b starts at the second 256-byte slot
  upload_u32(b, std::vector<uint32_t>(7, 4));
  EXPECT_EQ(download_u32(b)[6], 4u);
}

TEST_F(UNetLayoutTest, NamesShapesOrderAndInitialWeightsAreUnchanged) {
  const UNetConfig small = UNetConfig::from_json(kSmallConfig);
  const UNetConfig bundled = read_model_info(bundled_model()).config;
  ParameterSet a, b;
  UNet::declare_parameters(small, a);
  UNet::declare_parameters(bundled, b);
  EXPECT_EQ(layout_hash(a), 0xad47e922b9fb9741ull) << std::hex << layout_hash(a);
  EXPECT_EQ(layout_hash(b), 0x2ae8a83fc5a0f8c4ull) << std::hex << layout_hash(b);
  EXPECT_EQ(initial_weights_hash(ctx(), small, 1234), 0xc1d46f5504680098ull)
      << std::hex << initial_weights_hash(ctx(), small, 1234);
  EXPECT_EQ(initial_weights_hash(ctx(), bundled, 77), 0x3c9a62265bf66fceull)
      << std::hex << initial_weights_hash(ctx(), bundled, 77);
}

TEST_F(UNetLayoutTest, BundledModelGivesTheSameOutput) {
  LoadedModel m = load_model(ctx(), bundled_model());
  expect_fingerprint(output_fingerprint(ctx(), m.info.config, *m.params, 32),
                     {7.45443822, 3647.75507, 0.677199364, -0.974139333, -0.43656826, 0.194401145, 1.5054307,
                      0.962816834, -0.147803307, 0.919151306});
}

TEST_F(UNetLayoutTest, PyTorchExportGivesTheSameOutput) {
  if (!python_has_torch()) GTEST_SKIP() << "no torch in /usr/bin/python3";
  fs::path p = fs::temp_directory_path() / ("tessera-layout-" + std::to_string(::getpid()) + ".safetensors");
  UNetConfig unconditional = UNetConfig::from_json(kSmallConfig);
  unconditional.num_classes = 0;  // the exporter writes no class names
  CommandResult py =
      run_python_reference("unet.py", "--config '" + unconditional.to_json() + "' --seed 11 --export " + p.string());
  ASSERT_EQ(py.status, 0) << py.output;
  LoadedModel m = load_model(ctx(), p);
  fs::remove(p);
  expect_fingerprint(output_fingerprint(ctx(), m.info.config, *m.params, 16),
                     {261.373902, 486.280418, -0.239442304, -0.0149886794, -0.0221409239, -0.057823807, -0.373461515,
                      0.129595235, 0.0764542297, 0.0833395571});
}

}  // namespace
}  // namespace tessera::testing
