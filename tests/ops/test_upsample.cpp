// Nearest 2x upsample forward/backward vs the reference: odd sizes, 1x1, accumulation, and the
// decoder's real layout (writing into the first half of a concat buffer).
#include <cstring>

#include "ops/reference/concat.hpp"
#include "ops/reference/upsample.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/upsample.hpp"

namespace tessera::testing {
namespace {

class UpsampleTest : public VulkanTest {};

std::vector<double> host(const Tensor& t) { return to_double(download_f32(t)); }
std::vector<float> to_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }
Shape up(const Shape& s) { return {s[0], s[1], 2 * s[2], 2 * s[3]}; }

const std::vector<Shape> kShapes = {{2, 3, 7, 5}, {1, 64, 8, 8}, {3, 5, 1, 1}, {2, 17, 16, 16}};

TEST_F(UpsampleTest, ForwardMatchesReference) {
  for (const Shape& s : kShapes) {
    Tensor x = random_tensor(s, 1, -2, 2, "x"), y = poisoned_tensor(up(s), "y");
    CommandSequence seq(ctx());
    ops::upsample_nearest2x_forward(seq, x, y);
    seq.run();
    // A copy: exact.
    expect_close(download_f32(y), reference::upsample_nearest2x_forward(host(x), s[0], s[1], s[2], s[3]), 0.0,
                 "upsample " + shape_string(s));
  }
}

TEST_F(UpsampleTest, BackwardMatchesReference) {
  for (const Shape& s : kShapes)
    for (bool accumulate : {false, true}) {
      Tensor dy = random_tensor(up(s), 2, -2, 2, "dy");
      Tensor dx = accumulate ? random_tensor(s, 3, -1, 1, "dx") : poisoned_tensor(s, "dx");
      auto ref = reference::upsample_nearest2x_backward(host(dy), s[0], s[1], s[2], s[3]);
      if (accumulate) {
        auto before = host(dx);
        for (size_t i = 0; i < ref.size(); ++i) ref[i] += before[i];
      }
      CommandSequence seq(ctx());
      ops::upsample_nearest2x_backward(seq, dy, dx, accumulate);
      seq.run();
      // Four (five) fp32 additions: <= 3-4 roundings of terms of size <= 2 relative to the 1% floor.
      expect_close(download_f32(dx), ref, 1e-4, "upsample backward " + shape_string(s) + (accumulate ? " accumulate" : ""));
    }
}

TEST_F(UpsampleTest, WritesIntoTheFirstHalfOfAConcat) {
  // Decoder layout: y = up(x) is channels [0, 6) of a [2, 6 + 4, 14, 10] concat with the skip;
  // x itself is channels [4, 10) of a larger tensor. The backward reads dy from the same view.
  const int64_t n = 2, c = 6, h = 7, w = 5, skip = 4;
  Tensor x_parent = random_tensor({n, 4 + c, h, w}, 4, -2, 2, "x_parent");
  Tensor concat = random_tensor({n, c + skip, 2 * h, 2 * w}, 5, -2, 2, "concat");
  Tensor dconcat = random_tensor({n, c + skip, 2 * h, 2 * w}, 6, -2, 2, "dconcat");
  Tensor dx_parent = random_tensor({n, 4 + c, h, w}, 7, -2, 2, "dx_parent");
  Tensor x = x_parent.channel_slice(4, c), y = concat.channel_slice(0, c);
  Tensor dy = dconcat.channel_slice(0, c), dx = dx_parent.channel_slice(4, c);
  auto concat_before = download_f32(concat), dx_before = download_f32(dx_parent);
  CommandSequence seq(ctx());
  ops::upsample_nearest2x_forward(seq, x, y);
  ops::upsample_nearest2x_backward(seq, dy, dx, /*accumulate=*/false);
  seq.run();
  int64_t hw = h * w, ohw = 4 * hw;
  auto xv = reference::slice_channels(host(x_parent), n, 4 + c, 4, c, hw);
  auto dyv = reference::slice_channels(host(dconcat), n, c + skip, 0, c, ohw);
  auto concat_after = download_f32(concat), dx_after = download_f32(dx_parent);
  expect_close(to_float(reference::slice_channels(to_double(concat_after), n, c + skip, 0, c, ohw)),
               reference::upsample_nearest2x_forward(xv, n, c, h, w), 0.0, "upsample into concat view");
  expect_close(to_float(reference::slice_channels(to_double(dx_after), n, 4 + c, 4, c, hw)),
               reference::upsample_nearest2x_backward(dyv, n, c, h, w), 1e-4, "upsample backward from concat view");
  for (int64_t i = 0; i < n * (c + skip) * ohw; ++i)
    if (i / ohw % (c + skip) >= c)
      ASSERT_EQ(std::memcmp(&concat_after[i], &concat_before[i], 4), 0) << "skip element " << i << " was overwritten";
  for (int64_t i = 0; i < n * (4 + c) * hw; ++i)
    if (i / hw % (4 + c) < 4)
      ASSERT_EQ(std::memcmp(&dx_after[i], &dx_before[i], 4), 0) << "dx element " << i << " outside the view was written";
}

TEST_F(UpsampleTest, ReferenceBackwardMatchesFiniteDifferences) {
  const int64_t n = 2, c = 2, h = 3, w = 2;
  auto x = to_double(random_floats(n * c * h * w, 8, -2, 2));
  auto wgt = to_double(random_floats(n * c * h * w * 4, 9, -1, 1));
  auto loss = [&](const std::vector<double>& v) {
    auto y = reference::upsample_nearest2x_forward(v, n, c, h, w);
    double l = 0;
    for (size_t i = 0; i < y.size(); ++i) l += y[i] * wgt[i];
    return l;
  };
  expect_close(to_float(reference::upsample_nearest2x_backward(wgt, n, c, h, w)), finite_difference(loss, x), 1e-6,
               "reference upsample backward vs finite differences");
}

TEST_F(UpsampleTest, WrongOutputShapeIsAClearError) {
  Tensor x = random_tensor({2, 3, 7, 5}, 10, -1, 1, "x");
  Tensor y = poisoned_tensor({2, 3, 14, 11}, "y_odd");
  CommandSequence seq(ctx());
  try {
    ops::upsample_nearest2x_forward(seq, x, y);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("y_odd [2,3,14,11] f32 should have shape [2,3,14,10]"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(ops::upsample_nearest2x_backward(seq, y, x, false), ShapeError);
}

}  // namespace
}  // namespace tessera::testing
