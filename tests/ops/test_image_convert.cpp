#include <cmath>
#include <limits>

#include "ops/reference/image_convert.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/image_convert.hpp"

namespace tessera::testing {
namespace {

class ImageConvertTest : public VulkanTest {
 protected:
  Tensor rgba_tensor(const Shape& shape, const std::string& name) {
    Tensor t = arena().allocate(shape, DType::U32, name);
    upload_u32(t, std::vector<uint32_t>(size_t(t.numel()), 0xdeadbeefu));  // poison
    return t;
  }
};

// Distance in byte units from (x + 1) * 127.5 to the nearest .5 rounding boundary.
double distance_to_boundary(float x) {
  double v = (double(x) + 1.0) * 127.5;
  return std::abs(v - std::floor(v) - 0.5);
}

TEST_F(ImageConvertTest, ToRgba8MatchesReference) {
  struct Case {
    int64_t n, c, h, w;
  };
  for (Case s : {Case{1, 3, 1, 1}, Case{2, 3, 7, 5}, Case{3, 4, 33, 17}, Case{1, 4, 64, 64}}) {
    // Slightly beyond [-1, 1] so the clamp is exercised.
    Tensor image = random_tensor({s.n, s.c, s.h, s.w}, 1, -1.05f, 1.05f, "image");
    Tensor rgba = rgba_tensor({s.n, s.h, s.w}, "rgba");
    CommandSequence seq(ctx());
    ops::image_to_rgba8(seq, image, rgba);
    seq.run();
    auto x = download_f32(image);
    auto ref = reference::image_to_rgba8(to_double(x), s.n, s.c, s.h, s.w);
    auto got = download_u32(rgba);
    int64_t plane = s.h * s.w;
    for (size_t p = 0; p < got.size(); ++p)
      for (int ch = 0; ch < 4; ++ch) {
        uint32_t g = (got[p] >> (8 * ch)) & 0xff, r = (ref[p] >> (8 * ch)) & 0xff;
        if (g == r) continue;
        // The device rounds (x+1)*127.5 to f32 once before deciding: only an x within an f32
        // ulp of a boundary may go the other way (never seen with random inputs).
        float xv = x[(p / plane * s.c + ch) * plane + p % plane];
        EXPECT_LT(distance_to_boundary(xv), 1e-5) << "pixel " << p << " channel " << ch << " x " << xv;
        EXPECT_EQ(std::abs(int(g) - int(r)), 1);
      }
  }
}

TEST_F(ImageConvertTest, RoundingAtHalfBoundariesAndSpecialValues) {
  std::vector<float> xs{-1.0f, 1.0f, 0.0f, -2.0f, 3.0f, std::numeric_limits<float>::quiet_NaN(),
                        -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()};
  std::vector<uint32_t> expected{0, 255, 128 /* 127.5 rounds half up */, 0, 255, 0, 0, 255};
  // For every boundary k + 0.5 (k = 0..254): x just below and just above it, 1e-4 byte units away.
  for (int k = 0; k < 255; ++k) {
    double boundary = (k + 0.5) / 127.5 - 1.0;
    xs.push_back(float(boundary - 1e-4 / 127.5));
    expected.push_back(uint32_t(k));
    xs.push_back(float(boundary + 1e-4 / 127.5));
    expected.push_back(uint32_t(k + 1));
  }
  int64_t pixels = int64_t(xs.size());
  // One channel carries the test values; the others are copies so every byte lane is checked.
  std::vector<float> planar;
  for (int c = 0; c < 4; ++c) planar.insert(planar.end(), xs.begin(), xs.end());
  Tensor image = arena().allocate({1, 4, 1, pixels}, DType::F32, "image");
  upload_f32(image, planar);
  Tensor rgba = rgba_tensor({1, 1, pixels}, "rgba");
  CommandSequence seq(ctx());
  ops::image_to_rgba8(seq, image, rgba);
  seq.run();
  auto got = download_u32(rgba);
  for (int64_t p = 0; p < pixels; ++p) {
    uint32_t e = expected[p];
    EXPECT_EQ(got[p], e | (e << 8) | (e << 16) | (e << 24)) << "x = " << xs[p];
    if (p >= 8) {
      EXPECT_EQ(reference::float_to_byte(xs[p]), e) << "reference, x = " << xs[p];
    }
  }
}

TEST_F(ImageConvertTest, FromRgba8MatchesReferenceAndRoundTripsExactly) {
  for (int64_t c : {3, 4}) {
    const int64_t n = 2, h = 9, w = 31;
    std::vector<uint32_t> packed(size_t(n * h * w));
    auto r = random_floats(packed.size(), uint64_t(c), 0.0f, 4294967295.0f);
    for (size_t i = 0; i < packed.size(); ++i) packed[i] = uint32_t(double(r[i]));
    packed[0] = 0x00000000u;
    packed[1] = 0xffffffffu;
    packed[2] = 0x807f0180u;
    Tensor rgba = arena().allocate({n, h, w}, DType::U32, "rgba");
    upload_u32(rgba, packed);
    Tensor image = poisoned_tensor({n, c, h, w}, "image");
    Tensor back = rgba_tensor({n, h, w}, "rgba_back");
    CommandSequence seq(ctx());
    ops::image_from_rgba8(seq, rgba, image);
    ops::image_to_rgba8(seq, image, back);
    seq.run();
    // b / 127.5 - 1 with a couple of roundings: absolute error ~1e-7 (floor_fraction 1: absolute).
    expect_close(download_f32(image), reference::image_from_rgba8(packed, n, c, h, w), 1e-6,
                 "image_from_rgba8 C=" + std::to_string(c), 1.0);
    auto got = download_u32(back);
    for (size_t i = 0; i < packed.size(); ++i) {
      uint32_t want = c == 4 ? packed[i] : (packed[i] | 0xff000000u);
      ASSERT_EQ(got[i], want) << "rgba8 -> float -> rgba8 is not the identity at pixel " << i;
    }
  }
}

TEST_F(ImageConvertTest, WrongShapesAreClearErrors) {
  Tensor image = random_tensor({2, 2, 4, 4}, 1, -1, 1, "image");
  Tensor rgba = rgba_tensor({2, 4, 4}, "rgba");
  CommandSequence seq(ctx());
  try {
    ops::image_to_rgba8(seq, image, rgba);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("image [2,2,4,4] f32"), std::string::npos) << e.what();
  }
  Tensor image3 = random_tensor({2, 3, 4, 5}, 2, -1, 1, "image3");
  EXPECT_THROW(ops::image_to_rgba8(seq, image3, rgba), ShapeError);
  Tensor float_rgba = random_tensor({2, 4, 5}, 3, 0, 1, "float_rgba");
  EXPECT_THROW(ops::image_from_rgba8(seq, float_rgba, image3), ShapeError);
}

}  // namespace
}  // namespace tessera::testing
