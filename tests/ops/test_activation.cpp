// SiLU forward/backward vs the double-precision reference: odd shapes, saturated inputs,
// accumulation, in-place use, batch-strided views.
#include <cstring>

#include "ops/reference/activation.hpp"
#include "ops/reference/concat.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/activation.hpp"

namespace tessera::testing {
namespace {

class ActivationTest : public VulkanTest {};

std::vector<double> host(const Tensor& t) { return to_double(download_f32(t)); }
std::vector<float> to_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

// [-8, 8] reaches both the linear (x > 4) and the vanishing (x < -4) regime of SiLU.
const std::vector<Shape> kShapes = {{1}, {3, 5, 7, 9}, {2, 64, 33, 17}, {2, 257}};

TEST_F(ActivationTest, SiluForwardMatchesReference) {
  for (const Shape& shape : kShapes) {
    Tensor x = random_tensor(shape, 1, -8, 8, "x"), y = poisoned_tensor(shape, "y");
    CommandSequence seq(ctx());
    ops::silu_forward(seq, x, y);
    seq.run();
    // exp and a division: a few ulp, ~1e-6; the 1% floor covers x << 0 where y -> 0.
    expect_close(download_f32(y), reference::silu_forward(host(x)), 1e-5, "silu " + shape_string(shape));
  }
}

TEST_F(ActivationTest, SiluBackwardMatchesReference) {
  for (const Shape& shape : kShapes)
    for (bool accumulate : {false, true}) {
      Tensor x = random_tensor(shape, 2, -8, 8, "x"), dy = random_tensor(shape, 3, -1, 1, "dy");
      Tensor dx = accumulate ? random_tensor(shape, 4, -1, 1, "dx") : poisoned_tensor(shape, "dx");
      auto ref = reference::silu_backward(host(x), host(dy));
      if (accumulate) {
        auto before = host(dx);
        for (size_t i = 0; i < ref.size(); ++i) ref[i] += before[i];
      }
      CommandSequence seq(ctx());
      ops::silu_backward(seq, x, dy, dx, accumulate);
      seq.run();
      expect_close(download_f32(dx), ref, 1e-5, "silu backward " + shape_string(shape) + (accumulate ? " accumulate" : ""));
    }
}

TEST_F(ActivationTest, SiluForwardInPlace) {
  Shape shape{2, 3, 7, 5};
  Tensor x = random_tensor(shape, 5, -8, 8, "x");
  auto ref = reference::silu_forward(host(x));
  CommandSequence seq(ctx());
  ops::silu_forward(seq, x, x);
  seq.run();
  expect_close(download_f32(x), ref, 1e-5, "silu in place");
}

TEST_F(ActivationTest, SiluOnBatchStridedViews) {
  // Channels [4, 10) of [3, 12, 7, 5] tensors: 4 * 35 * 4 bytes = 560, 16-byte aligned.
  const int64_t n = 3, total = 12, first = 4, c = 6, hw = 35;
  Shape parent{n, total, 7, 5};
  Tensor xp = random_tensor(parent, 6, -8, 8, "x_parent"), dyp = random_tensor(parent, 7, -1, 1, "dy_parent");
  Tensor yp = random_tensor(parent, 8, -1, 1, "y_parent"), dxp = random_tensor(parent, 9, -1, 1, "dx_parent");
  auto y_before = download_f32(yp), dx_before = download_f32(dxp);
  CommandSequence seq(ctx());
  ops::silu_forward(seq, xp.channel_slice(first, c), yp.channel_slice(first, c));
  ops::silu_backward(seq, xp.channel_slice(first, c), dyp.channel_slice(first, c), dxp.channel_slice(first, c), true);
  seq.run();
  auto xv = reference::slice_channels(host(xp), n, total, first, c, hw);
  auto dyv = reference::slice_channels(host(dyp), n, total, first, c, hw);
  auto dx_ref = reference::silu_backward(xv, dyv);
  auto dx_old = reference::slice_channels(to_double(dx_before), n, total, first, c, hw);
  for (size_t i = 0; i < dx_ref.size(); ++i) dx_ref[i] += dx_old[i];
  auto y_after = download_f32(yp), dx_after = download_f32(dxp);
  expect_close(to_float(reference::slice_channels(to_double(y_after), n, total, first, c, hw)),
               reference::silu_forward(xv), 1e-5, "silu view");
  expect_close(to_float(reference::slice_channels(to_double(dx_after), n, total, first, c, hw)), dx_ref, 1e-5,
               "silu backward view");
  for (int64_t i = 0; i < n * total * hw; ++i) {
    int64_t channel = i / hw % total;
    if (channel >= first && channel < first + c) continue;
    ASSERT_EQ(std::memcmp(&y_after[i], &y_before[i], 4), 0) << "y element " << i << " outside the view was written";
    ASSERT_EQ(std::memcmp(&dx_after[i], &dx_before[i], 4), 0) << "dx element " << i << " outside the view was written";
  }
}

TEST_F(ActivationTest, ReferenceBackwardMatchesFiniteDifferences) {
  auto x = to_double(random_floats(64, 10, -8, 8));
  auto w = to_double(random_floats(64, 11, -1, 1));
  auto loss = [&](const std::vector<double>& v) {
    auto y = reference::silu_forward(v);
    double l = 0;
    for (size_t i = 0; i < y.size(); ++i) l += y[i] * w[i];
    return l;
  };
  expect_close(to_float(reference::silu_backward(x, w)), finite_difference(loss, x), 1e-6,
               "reference silu backward vs finite differences");
}

TEST_F(ActivationTest, ShapeMismatchIsAClearError) {
  Tensor x = random_tensor({2, 3, 4, 4}, 12, -1, 1, "x"), y = poisoned_tensor({2, 3, 4, 5}, "y_wrong");
  CommandSequence seq(ctx());
  try {
    ops::silu_forward(seq, x, y);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("y_wrong [2,3,4,5] f32"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ops::silu_backward(seq, x, x, y, false), ShapeError);
}

}  // namespace
}  // namespace tessera::testing
