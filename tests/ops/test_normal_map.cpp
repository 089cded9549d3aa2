// normal_map_from_height vs the double reference and vs closed forms: wrap-around at all four
// edges, both conventions, unit length, flat height, batches and channel views, non-square sizes,
// the 8-bit encoding through image_to_rgba8, and clear errors.
#include <array>
#include <cmath>
#include <cstring>
#include <numbers>
#include <span>

#include "ops/reference/normal_map.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/image_io.hpp"
#include "tessera/ops/normal_map.hpp"

namespace tessera::testing {
namespace {

using ops::NormalConvention;

// Tolerance on every component, absolute (floor_fraction 1: components are judged against the
// tensor's largest, which is about 1). Sources of error: the fp32 differences of heights in
// [-1, 1] (<= 2^-24 relative each), strength / 4 rounded once, and inversesqrt (GLSL allows a
// few ulp). Measured on lavapipe: components <= 1.6e-7 off, lengths <= 7.7e-8 off 1.
constexpr double kTolerance = 1e-6;

class NormalMapTest : public VulkanTest {
 protected:
  std::vector<float> run(const Tensor& height, float strength, NormalConvention convention) {
    Tensor normal = poisoned_tensor({height.dim(0), 3, height.dim(2), height.dim(3)}, "normal");
    CommandSequence seq(ctx());
    ops::normal_map_from_height(seq, height, normal, strength, convention);
    seq.run();
    return download_f32(normal);
  }
  Tensor height_tensor(const Shape& shape, const std::vector<float>& values) {
    Tensor t = arena().allocate(shape, DType::F32, "height");
    upload_f32(t, values);
    return t;
  }
};

// Every normal's length is 1 to fp32 rounding (the property the mean-blue check and lighting use).
void expect_unit_length(const std::vector<float>& normal, int64_t plane, const std::string& what) {
  for (size_t s = 0; s < normal.size() / (3 * plane); ++s)
    for (int64_t i = 0; i < plane; ++i) {
      const float* n = &normal[s * 3 * plane + i];
      double length =
          std::sqrt(double(n[0]) * n[0] + double(n[plane]) * n[plane] + double(n[2 * plane]) * n[2 * plane]);
      ASSERT_NEAR(length, 1.0, kTolerance) << what << ": sample " << s << " pixel " << i;
      ASSERT_GT(n[2 * plane], 0.0f) << what << ": normal points into the surface at sample " << s << " pixel " << i;
    }
}

TEST_F(NormalMapTest, MatchesReferenceForBothConventions) {
  // Non-square, odd, batched, 1- and 2-texel axes (wrap makes their slopes 0) and a 128 px map.
  const std::vector<Shape> shapes = {{3, 1, 7, 5}, {2, 1, 16, 24}, {2, 1, 1, 1},
                                     {1, 1, 2, 3}, {1, 1, 1, 9},   {2, 1, 128, 128}};
  uint64_t seed = 1;
  for (const Shape& s : shapes)
    for (float strength : {0.5f, 4.0f, 10.0f})
      for (NormalConvention convention : {NormalConvention::OpenGL, NormalConvention::DirectX}) {
        Tensor height = random_tensor(s, seed++, -1, 1, "height");
        auto got = run(height, strength, convention);
        std::string what = "normals " + shape_string(s) + " strength " + std::to_string(strength) +
                           (convention == NormalConvention::DirectX ? " DirectX" : " OpenGL");
        expect_close(got,
                     reference::normal_map_from_height(to_double(download_f32(height)), s[0], s[2], s[3], strength,
                                                       convention == NormalConvention::DirectX),
                     kTolerance, what, 1.0);
        expect_unit_length(got, s[2] * s[3], what);
      }
}

TEST_F(NormalMapTest, DirectXIsOpenGLWithGreenNegated) {
  Tensor height = random_tensor({2, 1, 9, 13}, 40, -1, 1, "height");
  auto gl = run(height, 6.0f, NormalConvention::OpenGL);
  auto dx = run(height, 6.0f, NormalConvention::DirectX);
  const size_t plane = 9 * 13;
  size_t tilted = 0;
  for (size_t i = 0; i < gl.size(); ++i) {
    bool green = i / plane % 3 == 1;
    // Same arithmetic up to one exact sign flip: equal bits.
    ASSERT_EQ(dx[i], green ? -gl[i] : gl[i]) << "element " << i;
    tilted += green && std::abs(gl[i]) > 0.1f;
  }
  EXPECT_GT(tilted, plane / 2) << "random heights should tilt most normals in y";
}

// Slopes read back from the normals the way the material set's README (step 5) reads a GL normal
// map, p = -nx/nz and q = ny/nz (rows down), equal the central-difference slopes of the height in
// texels. On h_texels = (x + 1) / 2 * strength with x = a sin(2 pi col / W) + b cos(2 pi row / H),
// the periodic central differences are exactly
//   p = strength / 2 * a * sin(2 pi / W) * cos(2 pi col / W)
//   q = -strength / 2 * b * sin(2 pi / H) * sin(2 pi row / H)
// at every pixel, edges included, where a clamped or one-sided difference would differ.
TEST_F(NormalMapTest, SlopesAreTheDatasetsReadingOfAPeriodicHeight) {
  const int64_t h = 12, w = 20;
  const double a = 0.5, b = 0.4, strength = 8.0, two_pi = 2 * std::numbers::pi;
  std::vector<float> x(size_t(h * w));
  for (int64_t row = 0; row < h; ++row)
    for (int64_t col = 0; col < w; ++col)
      x[row * w + col] = float(a * std::sin(two_pi * col / w) + b * std::cos(two_pi * row / h));
  auto got = run(height_tensor({1, 1, h, w}, x), float(strength), NormalConvention::OpenGL);
  for (int64_t row = 0; row < h; ++row)
    for (int64_t col = 0; col < w; ++col) {
      double p = strength / 2 * a * std::sin(two_pi / w) * std::cos(two_pi * col / w);
      double q = -strength / 2 * b * std::sin(two_pi / h) * std::sin(two_pi * row / h);
      double nx = got[row * w + col], ny = got[h * w + row * w + col], nz = got[2 * h * w + row * w + col];
      // x is rounded to f32 before the op sees it (~6e-8 per value, times strength / 4).
      EXPECT_NEAR(-nx / nz, p, 1e-5) << "p at row " << row << " col " << col;
      EXPECT_NEAR(ny / nz, q, 1e-5) << "q at row " << row << " col " << col;
    }
}

// One raised texel at a corner tilts exactly its four neighbours, two of them across the border:
// at (0, 0) the wrapped ones are (W-1, 0) (right-hand neighbour wraps) and (0, H-1) (lower
// neighbour wraps); at (W-1, H-1) they are (0, H-1) (left wraps) and (W-1, 0) (upper wraps).
// Together: all four edges. The surface rises towards the spike, so each normal leans away from
// it: -x where the spike is to the right, +Y (OpenGL, up) where the spike is below.
TEST_F(NormalMapTest, WrapsAroundAtAllFourEdges) {
  const int64_t h = 6, w = 10;
  struct Tilt {
    int64_t col, row;
    float sx, sy;  // expected signs of nx and ny (OpenGL) at this neighbour; 0 = exactly 0
  };
  struct Case {
    int64_t col, row;
    std::vector<Tilt> tilted;
  };
  const std::vector<Case> cases = {
      {0, 0, {{w - 1, 0, -1, 0}, {1, 0, +1, 0}, {0, h - 1, 0, +1}, {0, 1, 0, -1}}},
      {w - 1, h - 1, {{0, h - 1, +1, 0}, {w - 2, h - 1, -1, 0}, {w - 1, 0, 0, -1}, {w - 1, h - 2, 0, +1}}},
  };
  for (const Case& c : cases)
    for (NormalConvention convention : {NormalConvention::OpenGL, NormalConvention::DirectX}) {
      std::vector<float> x(size_t(h * w), -0.25f);
      x[c.row * w + c.col] = 0.75f;
      auto got = run(height_tensor({1, 1, h, w}, x), 4.0f, convention);
      const float y_sign = convention == NormalConvention::OpenGL ? 1.0f : -1.0f;
      // Spike of 1 in x = 2 texels at strength 4; central difference: slope 1, n = (-+1, 0, 1)/sqrt 2.
      const float lean = float(1 / std::sqrt(2.0));
      for (int64_t row = 0; row < h; ++row)
        for (int64_t col = 0; col < w; ++col) {
          float sx = 0, sy = 0;
          for (const Tilt& t : c.tilted)
            if (t.col == col && t.row == row) sx = t.sx, sy = t.sy * y_sign;
          const float nx = got[row * w + col], ny = got[h * w + row * w + col], nz = got[2 * h * w + row * w + col];
          std::string where = "spike at (" + std::to_string(c.col) + "," + std::to_string(c.row) + "), pixel (" +
                              std::to_string(col) + "," + std::to_string(row) + ")" +
                              (y_sign > 0 ? " OpenGL" : " DirectX");
          EXPECT_NEAR(nx, sx * lean, kTolerance) << where;
          EXPECT_NEAR(ny, sy * lean, kTolerance) << where;
          EXPECT_NEAR(nz, sx == 0 && sy == 0 ? 1.0f : lean, kTolerance) << where;
        }
    }
}

// A flat height gives (0, 0, 1) everywhere at any strength, and the 8-bit encoding of
// planes_to_rgba8 (the one the PNG paths and the C API use) turns it into the usual flat-normal
// colour.
TEST_F(NormalMapTest, FlatHeightPointsStraightOutAndEncodesAs128_128_255) {
  const int64_t n = 2, h = 5, w = 7;
  for (float level : {-1.0f, 0.37f, 1.0f}) {
    Tensor height = height_tensor({n, 1, h, w}, std::vector<float>(size_t(n * h * w), level));
    Tensor normal = poisoned_tensor({n, 3, h, w}, "normal");
    CommandSequence seq(ctx());
    ops::normal_map_from_height(seq, height, normal, 10.0f, NormalConvention::OpenGL);
    seq.run();
    auto got = download_f32(normal);
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(got[i], i / (h * w) % 3 == 2 ? 1.0f : 0.0f) << "level " << level << " element " << i;
    const std::vector<uint8_t> rgba = planes_to_rgba8(std::span(got).first(size_t(3 * h * w)), int(w), int(h));
    for (size_t i = 0; i < rgba.size(); ++i)
      ASSERT_EQ(rgba[i], (std::array<uint8_t, 4>{128, 128, 255, 255})[i % 4]) << "byte " << i;
  }
  Tensor ramp = random_tensor({1, 1, 4, 4}, 41, -1, 1, "ramp");
  auto zero_strength = run(ramp, 0.0f, NormalConvention::DirectX);
  for (size_t i = 0; i < zero_strength.size(); ++i)
    ASSERT_EQ(zero_strength[i], i / 16 == 2 ? 1.0f : 0.0f) << "strength 0, element " << i;
}

// The sampler's layout: height is channel 3 of an albedo+height+roughness image [N, 5, H, W];
// normals go into channels of another tensor, or into channels 0..2 of the same one (disjoint
// elements, interleaved byte spans). Elements outside the output view stay untouched.
TEST_F(NormalMapTest, ReadsAndWritesChannelViews) {
  const int64_t n = 3, h = 8, w = 12;  // h * w a multiple of 16 elements: every channel view is bindable
  const int64_t plane = h * w;
  Tensor image = random_tensor({n, 5, h, w}, 42, -1, 1, "image");
  Tensor set = random_tensor({n, 4, h, w}, 43, -1, 1, "set");
  auto image_before = download_f32(image), set_before = download_f32(set);
  std::vector<double> height;
  for (int64_t s = 0; s < n; ++s)
    for (int64_t i = 0; i < plane; ++i) height.push_back(image_before[(s * 5 + 3) * plane + i]);
  auto ref = reference::normal_map_from_height(height, n, h, w, 3.0, false);

  CommandSequence seq(ctx());
  ops::normal_map_from_height(seq, image.channel_slice(3, 1), set.channel_slice(1, 3), 3.0f);
  ops::normal_map_from_height(seq, image.channel_slice(3, 1), image.channel_slice(0, 3), 3.0f);
  seq.run();
  auto set_after = download_f32(set), image_after = download_f32(image);
  for (auto [after, before, channels, first] :
       {std::tuple{&set_after, &set_before, 4, 1}, std::tuple{&image_after, &image_before, 5, 0}}) {
    std::vector<float> normals;
    for (int64_t s = 0; s < n; ++s)
      for (int64_t i = 0; i < 3 * plane; ++i) normals.push_back((*after)[(s * channels + first) * plane + i]);
    expect_close(normals, ref, kTolerance, "normals into a channel view", 1.0);
    for (size_t i = 0; i < after->size(); ++i) {
      int64_t channel = int64_t(i) / plane % channels;
      if (channel < first || channel >= first + 3) {
        ASSERT_EQ(std::memcmp(&(*after)[i], &(*before)[i], 4), 0) << "element " << i << " outside the view changed";
      }
    }
  }
}

TEST_F(NormalMapTest, BadArgumentsAreClearErrors) {
  Tensor height = random_tensor({2, 1, 4, 8}, 44, -1, 1, "height");
  Tensor normal = poisoned_tensor({2, 3, 4, 8}, "normal");
  CommandSequence seq(ctx());
  auto expect_error = [&](const Tensor& hgt, const Tensor& nrm, float strength, NormalConvention convention,
                          const std::string& message) {
    try {
      ops::normal_map_from_height(seq, hgt, nrm, strength, convention);
      ADD_FAILURE() << "expected ShapeError containing '" << message << "'";
    } catch (const ShapeError& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("normal_map_from_height"), std::string::npos) << e.what();
    }
  };
  const auto gl = NormalConvention::OpenGL;
  Tensor rgb = random_tensor({2, 3, 4, 8}, 45, -1, 1, "rgb");
  expect_error(rgb, normal, 1.0f, gl, "rgb [2,3,4,8] f32 should be [N, 1, H, W]");
  expect_error(height, poisoned_tensor({2, 4, 4, 8}, "rgba_normal"), 1.0f, gl,
               "rgba_normal [2,4,4,8] f32 should be [N, 3, H, W]");
  expect_error(height, poisoned_tensor({2, 3, 8, 4}, "transposed"), 1.0f, gl, "should have shape [2,3,4,8]");
  expect_error(height, normal, -1.0f, gl, "strength -1");
  expect_error(height, normal, std::nanf(""), gl, "strength nan");
  expect_error(height, normal, INFINITY, gl, "strength inf");
  expect_error(height, normal, 1.0f, static_cast<NormalConvention>(2), "convention 2");
  Tensor image = random_tensor({2, 5, 4, 8}, 46, -1, 1, "image");
  expect_error(image.channel_slice(3, 1), image.channel_slice(2, 3), 1.0f, gl, "shares elements with height");
  EXPECT_EQ(seq.dispatch_count(), 0u) << "a refused call recorded a dispatch";
}

}  // namespace
}  // namespace tessera::testing
