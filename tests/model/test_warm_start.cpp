// --init-from (tessera/warm_start.hpp): a new model takes a trained one's weights where they
// mean the same thing: whole tensors, the channels of shared maps, the rows of shared classes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "support/random_model.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/warm_start.hpp"

namespace tessera {
namespace {

namespace fs = std::filesystem;

class WarmStartTest : public testing::VulkanTest {
 protected:
  void SetUp() override {
    VulkanTest::SetUp();
    path_ = fs::temp_directory_path() / ("tessera-warm-start-" + std::to_string(::getpid()) + ".safetensors");
    source_.config = UNetConfig::from_json(
        R"({"base_channels": 16, "channel_mult": [1, 2], "num_res_blocks": 1, "attention_resolutions": [8],
            "num_heads": 2, "norm_groups": 4, "num_classes": 2, "padding": "circular", "train_resolution": 16})");
    source_.classes = {"brick", "moss"};
    testing::write_random_model(path_, source_, 5);
  }
  void TearDown() override {
    fs::remove(path_);
    VulkanTest::TearDown();
  }
  fs::path path_;
  ModelInfo source_;
};

TEST_F(WarmStartTest, SharedMapsAndClassesCarryOverAndTheRestKeepsItsInitialValues) {
  LoadedModel source = load_model(ctx(), path_);
  ModelInfo target = source_;
  target.config.maps = {MapKind::Albedo, MapKind::Height, MapKind::Roughness};
  target.classes = {"moss", "sand"};
  ParameterSet declared;
  UNet::declare_parameters(target.config, declared);
  std::vector<float> initial = declared.initial_values(1, 0), flat = initial;
  WarmStartReport r = warm_start(declared, target, flat, *source.params, source.info);
  EXPECT_TRUE(r.fresh.empty());
  EXPECT_EQ(r.partial, 4);  // conv_in weight, the output conv's weight and bias, the class embedding
  EXPECT_EQ(r.copied + r.partial, int(declared.entries().size()));

  auto check = [&](const std::string& name, auto expected_source_index) {
    const auto& e = declared.entry(name);
    std::vector<float> src = source.params->download(name);
    for (int64_t i = 0; i < shape_numel(e.shape); ++i) {
      int64_t s = expected_source_index(e.shape, i);
      float want = s >= 0 ? src[s] : initial[e.offset + i];
      ASSERT_EQ(flat[e.offset + i], want) << name << " element " << i;
    }
  };
  // conv_in.weight [out, 5, 3, 3] from [out, 3, 3, 3]: input channels 0..2 are the albedo's.
  check("conv_in.weight", [](const Shape& s, int64_t i) -> int64_t {
    int64_t k = s[2] * s[3], c = (i / k) % s[1], o = i / (k * s[1]);
    return c < 3 ? (o * 3 + c) * k + i % k : -1;
  });
  // class_embed.weight [3, D]: "moss" was row 1, "sand" is new, the null row was row 2.
  check("class_embed.weight", [](const Shape& s, int64_t i) -> int64_t {
    int64_t row = i / s[1], col = i % s[1];
    return row == 0 ? s[1] + col : row == 2 ? 2 * s[1] + col : -1;
  });
  check("time_embed.0.weight", [](const Shape&, int64_t i) -> int64_t { return i; });
}

TEST_F(WarmStartTest, AnotherArchitectureIsRefusedNamingTheParameter) {
  LoadedModel source = load_model(ctx(), path_);
  ModelInfo target = source_;
  target.config.base_channels = 32;
  ParameterSet declared;
  UNet::declare_parameters(target.config, declared);
  std::vector<float> flat = declared.initial_values(1, 0);
  try {
    warm_start(declared, target, flat, *source.params, source.info);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--init-from: parameter '"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("the architectures differ"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tessera
