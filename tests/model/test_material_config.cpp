// Material maps in the model config (SPEC §12): the list decides the channels, RGB models are
// written exactly as before, and a bad list names what is wrong.
#include <gtest/gtest.h>

#include "model/config_error.hpp"
#include "tessera/error.hpp"
#include "tessera/material_maps.hpp"
#include "tessera/unet_config.hpp"

namespace tessera {
namespace {

const std::string kRgbJson =
    R"({"attention_resolutions":[16],"base_channels":64,"channel_mult":[1,2,2,2],"dropout":0.0,"in_channels":3,)"
    R"("norm_groups":32,"num_classes":0,"num_heads":4,"num_res_blocks":2,"out_channels":3,"padding":"zeros",)"
    R"("prediction":"eps","schedule":"linear","timesteps":1000,"train_resolution":64})";

std::string with(std::string json, const std::string& from, const std::string& to) {
  return json.replace(json.find(from), from.size(), to);
}

TEST(MaterialConfigTest, AModelWithoutMapsIsAlbedoAndIsWrittenWithoutTheKey) {
  UNetConfig c = UNetConfig::from_json(kRgbJson, MissingConfigKeys::Refuse);
  EXPECT_EQ(c.maps, std::vector<MapKind>{MapKind::Albedo});
  EXPECT_EQ(c.channels(), 3);
  EXPECT_EQ(c.to_json(), kRgbJson);  // byte for byte what older versions wrote and read
}

TEST(MaterialConfigTest, TheMapListGivesTheChannelsAndRoundTrips) {
  std::string json = with(
      with(with(kRgbJson, R"("in_channels":3)", R"("in_channels":5)"), R"("out_channels":3)", R"("out_channels":5)"),
      R"("norm_groups")", R"("maps":["albedo","height","roughness"],"norm_groups")");
  UNetConfig c = UNetConfig::from_json(json, MissingConfigKeys::Refuse);
  EXPECT_EQ(c.maps, (std::vector<MapKind>{MapKind::Albedo, MapKind::Height, MapKind::Roughness}));
  EXPECT_EQ(c.channels(), 5);
  EXPECT_EQ(c.to_json(), json);
  EXPECT_EQ(map_channel_offset(c.maps, MapKind::Height), 3);
  EXPECT_EQ(map_channel_offset(c.maps, MapKind::Roughness), 4);
  c.maps = {MapKind::Albedo, MapKind::Roughness};
  EXPECT_EQ(c.channels(), 4);
  EXPECT_EQ(map_channel_offset(c.maps, MapKind::Height), -1);
  EXPECT_EQ(UNetConfig::from_json(c.to_json()).maps, c.maps);
}

TEST(MaterialConfigTest, ChannelCountsThatDisagreeWithTheMapsAreRefused) {
  std::string json = with(kRgbJson, R"("norm_groups")", R"("maps":["albedo","height"],"norm_groups")");
  EXPECT_EQ(config_error_of(json),
            "model config: in_channels 3 and out_channels 3 must both be 4, the channels of maps [albedo, height]");
}

TEST(MaterialConfigTest, BadMapListsNameTheProblem) {
  auto maps = [&](const std::string& list) {
    return config_error_of(with(kRgbJson, R"("norm_groups")", R"("maps":)" + list + R"(,"norm_groups")"));
  };
  EXPECT_NE(maps(R"(["albedo","normal"])")
                .find("'maps' holds '\"normal\"', expected map names from: albedo, height, roughness"),
            std::string::npos)
      << maps(R"(["albedo","normal"])");
  EXPECT_NE(maps(R"(["height"])").find("maps must start with \"albedo\""), std::string::npos);
  EXPECT_NE(maps(R"(["albedo","roughness","height"])").find("distinct and in table order"), std::string::npos);
  EXPECT_NE(maps(R"(["albedo","albedo"])").find("distinct"), std::string::npos);
  EXPECT_NE(maps(R"([])").find("'maps' must be a non-empty list"), std::string::npos);
  EXPECT_NE(maps(R"("albedo")").find("'maps' must be a non-empty list"), std::string::npos);
  EXPECT_NE(maps(R"([3])").find("expected map names"), std::string::npos);
}

}  // namespace
}  // namespace tessera
