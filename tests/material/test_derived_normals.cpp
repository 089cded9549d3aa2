// DerivedNormals reads the height channel of a material batch, wherever the maps put it.
#include <gtest/gtest.h>

#include "support/vulkan_test.hpp"
#include "tessera/derived_normals.hpp"
#include "tessera/error.hpp"

namespace tessera::testing {
namespace {

class DerivedNormalsTest : public VulkanTest {};

TEST_F(DerivedNormalsTest, TakesTheHeightChannelOfTheBatch) {
  const std::vector<MapKind> maps{MapKind::Albedo, MapKind::Height, MapKind::Roughness};
  Tensor images = random_tensor({2, 5, 8, 12}, 3);
  NormalOptions o;
  o.strength = 6.0f;
  DerivedNormals normals(ctx(), images, maps, o);
  normals.run();
  // The same op on a copy of channel 3 alone.
  std::vector<float> all = download_f32(images), planes;
  for (int n = 0; n < 2; ++n)
    planes.insert(planes.end(), all.begin() + (n * 5 + 3) * 96, all.begin() + (n * 5 + 4) * 96);
  Tensor height = arena().allocate({2, 1, 8, 12}, DType::F32, "height");
  upload_f32(height, planes);
  Tensor expected = arena().allocate({2, 3, 8, 12}, DType::F32, "expected");
  CommandSequence seq(ctx());
  ops::normal_map_from_height(seq, height, expected, 6.0f);
  seq.barrier();
  seq.run();
  EXPECT_EQ(normals.download(), download_f32(expected));
}

TEST_F(DerivedNormalsTest, AModelWithoutHeightIsRefused) {
  Tensor images = random_tensor({1, 3, 8, 8}, 3);
  try {
    DerivedNormals normals(ctx(), images, {MapKind::Albedo}, {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "normals are derived from height, and this model has none (its maps: albedo)");
  }
}

}  // namespace
}  // namespace tessera::testing
