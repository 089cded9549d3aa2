#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <cstring>
#include <fstream>

#include "support/run_command.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/model_file.hpp"
#include "tessera/safetensors.hpp"
#include "tessera/unet.hpp"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;

class ModelFileTest : public VulkanTest {
 protected:
  void SetUp() override {
    VulkanTest::SetUp();
    dir_ = fs::temp_directory_path() / ("tessera-modelfile-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    info_.config = UNetConfig::from_json(
        R"({"base_channels": 8, "channel_mult": [1, 2], "num_res_blocks": 1, "attention_resolutions": [4],
            "num_heads": 2, "norm_groups": 4, "num_classes": 2, "padding": "circular", "train_resolution": 8})");
    info_.classes = {"rock", "wood"};
    info_.provenance = {{"command", "tessera train --data x"}, {"steps", "10"}};
    UNet::declare_parameters(info_.config, layout_);
    flat_ = random_floats(static_cast<size_t>(layout_.flat_elements()), 3);
  }
  void TearDown() override {
    fs::remove_all(dir_);
    VulkanTest::TearDown();
  }
  // Writes a model whose tensors/metadata are changed by `edit`, and returns the load error.
  std::string load_error(const std::function<void(std::vector<SafetensorsTensorData>&,
                                                  std::map<std::string, std::string>&)>& edit) {
    std::vector<SafetensorsTensorData> tensors;
    for (const auto& e : layout_.entries())
      tensors.push_back({e.name, SafetensorsDType::F32, e.shape,
                         std::as_bytes(std::span(flat_.data() + e.offset, size_t(shape_numel(e.shape))))});
    std::map<std::string, std::string> meta{{"tessera.format_version", "1"},
                                            {"tessera.config", info_.config.to_json()},
                                            {"tessera.classes", R"(["rock","wood"])"}};
    edit(tensors, meta);
    fs::path p = dir_ / "edited.safetensors";
    write_safetensors(p, tensors, meta);
    try {
      load_model(ctx(), p);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  fs::path dir_;
  ModelInfo info_;
  ParameterSet layout_;
  std::vector<float> flat_;
};

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST_F(ModelFileTest, RoundTripsExactly) {
  save_model(dir_ / "m.safetensors", info_, flat_);
  LoadedModel m = load_model(ctx(), dir_ / "m.safetensors");
  EXPECT_EQ(m.info.config.to_json(), info_.config.to_json());
  EXPECT_EQ(m.info.classes, info_.classes);
  EXPECT_EQ(m.info.provenance, info_.provenance);
  auto back = m.params->download_flat();
  for (const auto& e : layout_.entries())
    for (int64_t i = 0; i < shape_numel(e.shape); ++i) ASSERT_EQ(back[e.offset + i], flat_[e.offset + i]) << e.name;
  EXPECT_EQ(read_model_info(dir_ / "m.safetensors").classes, info_.classes);
}

TEST_F(ModelFileTest, LoadsAModelExportedFromPyTorch) {
  if (!python_has_torch()) GTEST_SKIP() << "no torch in /usr/bin/python3";
  fs::path p = dir_ / "torch.safetensors";
  // The exporter writes no class names, so export the unconditional variant of the config.
  UNetConfig unconditional = info_.config;
  unconditional.num_classes = 0;
  CommandResult py = run_python_reference("unet.py", "--config '" + unconditional.to_json() + "' --export " + p.string());
  ASSERT_EQ(py.status, 0) << py.output;
  LoadedModel m = load_model(ctx(), p);
  auto file = SafetensorsFile::load(p);
  auto values = m.params->download_flat();
  for (const auto& e : m.params->entries()) {
    const auto& t = file.tensor(e.name);
    ASSERT_EQ(t.data.size(), size_t(shape_numel(e.shape)) * 4) << e.name;
    EXPECT_EQ(std::memcmp(t.data.data(), values.data() + e.offset, t.data.size()), 0) << e.name;
  }
  EXPECT_EQ(m.info.provenance.at("source"), "tools/reference/unet.py random init");
}

TEST_F(ModelFileTest, HostileFilesNameTheProblem) {
  using T = std::vector<SafetensorsTensorData>;
  using M = std::map<std::string, std::string>;
  EXPECT_TRUE(has(load_error([](T&, M& m) { m.erase("tessera.format_version"); }), "not a Tessera model"));
  EXPECT_TRUE(has(load_error([](T&, M& m) { m["tessera.format_version"] = "2"; }), "format version '2' is not supported"));
  EXPECT_TRUE(has(load_error([](T&, M& m) { m["tessera.config"] = "{oops"; }), "model config is not valid JSON"));
  EXPECT_TRUE(has(load_error([](T&, M& m) { m["tessera.config"] = R"({"padding": "mirror"})"; }), "'padding' is 'mirror'"));
  EXPECT_TRUE(has(load_error([](T&, M& m) { m["tessera.classes"] = R"("rock")"; }), "not a JSON list"));
  EXPECT_TRUE(has(load_error([](T&, M& m) { m["tessera.classes"] = R"(["rock"])"; }), "1 class names for num_classes 2"));
  EXPECT_TRUE(has(load_error([](T& t, M&) { t.erase(t.begin()); }), "missing"));
  std::vector<float> extra(4);
  EXPECT_TRUE(has(load_error([&](T& t, M&) {
                    t.push_back({"bonus.weight", SafetensorsDType::F32, {4}, std::as_bytes(std::span(extra))});
                  }),
                  "bonus.weight"));
  EXPECT_TRUE(has(load_error([](T& t, M&) {
                    for (auto& x : t)
                      if (x.name == "conv_in.weight") {
                        x.shape = {8, 27};
                      }
                  }),
                  "conv_in.weight"));
  std::vector<uint16_t> half(8 * 3 * 3 * 3);
  std::string f16 = load_error([&](T& t, M&) {
    for (auto& x : t)
      if (x.name == "conv_in.weight") {
        x.dtype = SafetensorsDType::F16;
        x.data = std::as_bytes(std::span(half));
      }
  });
  EXPECT_TRUE(has(f16, "conv_in.weight") && has(f16, "F16")) << f16;
  // Truncated file: the safetensors reader's error names the file.
  save_model(dir_ / "t.safetensors", info_, flat_);
  fs::resize_file(dir_ / "t.safetensors", fs::file_size(dir_ / "t.safetensors") - 100);
  try {
    load_model(ctx(), dir_ / "t.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_TRUE(has(e.what(), "t.safetensors")) << e.what();
  }
}

TEST_F(ModelFileTest, CheckpointRoundTrip) {
  Checkpoint c;
  c.info = info_;
  c.step = 1234;
  c.seed = 99;
  c.options_json = R"({"lr": 0.001})";
  c.weights = flat_;
  c.ema = random_floats(flat_.size(), 4);
  c.adam_m = random_floats(flat_.size(), 5);
  c.adam_v = random_floats(flat_.size(), 6, 0, 1);
  save_checkpoint(dir_ / "c.safetensors", c);
  Checkpoint d = load_checkpoint(dir_ / "c.safetensors");
  EXPECT_EQ(d.step, 1234);
  EXPECT_EQ(d.seed, 99u);
  EXPECT_EQ(d.options_json, c.options_json);
  // Alignment gaps are not stored: compare parameter elements only.
  for (const auto& e : layout_.entries())
    for (int64_t i = 0; i < shape_numel(e.shape); ++i) {
      size_t k = size_t(e.offset + i);
      ASSERT_EQ(d.weights[k], c.weights[k]);
      ASSERT_EQ(d.ema[k], c.ema[k]);
      ASSERT_EQ(d.adam_m[k], c.adam_m[k]);
      ASSERT_EQ(d.adam_v[k], c.adam_v[k]);
    }
  // A model file is not a checkpoint.
  save_model(dir_ / "m.safetensors", info_, flat_);
  EXPECT_THROW(load_checkpoint(dir_ / "m.safetensors"), Error);
}

}  // namespace
}  // namespace tessera::testing
