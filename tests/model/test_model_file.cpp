#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "model/model_file_fixture.hpp"
#include "support/run_command.hpp"
#include "tessera/error.hpp"
#include "tessera/model_file.hpp"
#include "tessera/safetensors.hpp"
#include "tessera/unet.hpp"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;

class ModelFileTest : public ModelFileFixture {};

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
