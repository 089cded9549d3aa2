#include <gtest/gtest.h>

#include "model/config_error.hpp"
#include "tessera/error.hpp"
#include "tessera/unet_config.hpp"

namespace tessera {
namespace {

TEST(UNetConfigTest, RoundTripsThroughJson) {
  UNetConfig c;
  c.base_channels = 32;
  c.channel_mult = {1, 2};
  c.norm_groups = 8;
  c.num_classes = 9;
  c.padding = PaddingMode::Circular;
  c.schedule = Schedule::Cosine;
  c.prediction = Prediction::V;
  c.train_resolution = 32;
  UNetConfig d = UNetConfig::from_json(c.to_json());
  EXPECT_EQ(d.to_json(), c.to_json());
  EXPECT_EQ(d.size_multiple(), 2);
  EXPECT_EQ(d.time_embed_dim(), 128);
}

TEST(UNetConfigTest, ReadsThePythonReferenceDefaults) {
  // The keys tools/reference/unet.py writes (json.dumps(sort_keys=True)).
  auto c = UNetConfig::from_json(
      R"({"attention_resolutions": [16], "base_channels": 64, "channel_mult": [1, 2, 2, 2], "dropout": 0.0,
          "in_channels": 3, "norm_groups": 32, "num_classes": 0, "num_heads": 4, "num_res_blocks": 2,
          "out_channels": 3, "padding": "zeros", "prediction": "eps", "schedule": "linear", "timesteps": 1000,
          "train_resolution": 64})");
  EXPECT_EQ(c.levels(), 4);
  EXPECT_TRUE(c.has_attention_at(16));
}

TEST(UNetConfigTest, BadValuesNameTheField) {
  EXPECT_NE(config_error_of("[1,2]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(config_error_of("{").find("model config is not valid JSON"), std::string::npos);
  EXPECT_NE(
      config_error_of(R"({"padding": "reflect"})").find("'padding' is 'reflect', expected one of: zeros, circular"),
      std::string::npos);
  EXPECT_NE(config_error_of(R"({"base_channels": "64"})").find("'base_channels' must be an integer"),
            std::string::npos);
  EXPECT_NE(config_error_of(R"({"base_channels": 48})").find("norm_groups 32 does not divide base_channels 48"),
            std::string::npos);
  EXPECT_NE(config_error_of(R"({"train_resolution": 60})").find("not a multiple of 8"), std::string::npos);
  EXPECT_NE(config_error_of(R"({"num_heads": 3})").find("num_heads 3 does not divide"), std::string::npos);
  EXPECT_NE(config_error_of(R"({"channel_mult": []})").find("channel_mult"), std::string::npos);
  EXPECT_NE(config_error_of(R"({"dropout": 1.5})").find("dropout"), std::string::npos);
  EXPECT_NE(config_error_of(R"({"num_res_blocks": 99999999999})").find("out of range"), std::string::npos);
}

}  // namespace
}  // namespace tessera
