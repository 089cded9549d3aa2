#include "ops/reference/linear.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/linear.hpp"

namespace tessera::testing {
namespace {

using reference::LinearShape;

// Sums of up to 130 f32 products (matmul) or 33 rows (bias): error ~1e-6 of the scale.
constexpr double kTolerance = 1e-4;

std::string describe(const LinearShape& s) {
  return "rows=" + std::to_string(s.rows) + " in=" + std::to_string(s.in) + " out=" + std::to_string(s.out);
}

const std::vector<LinearShape> kShapes = {{1, 1, 1}, {7, 33, 65}, {33, 130, 7}, {16, 64, 128}, {5, 12, 3}};

class LinearTest : public VulkanTest {};

TEST_F(LinearTest, ForwardMatchesReference) {
  for_each_variant([&](KernelVariant) {
    uint64_t seed = 100;
    for (const LinearShape& s : kShapes)
      for (bool with_bias : {true, false}) {
        Tensor x = random_tensor({s.rows, s.in}, ++seed, -1, 1, "x");
        Tensor w = random_tensor({s.out, s.in}, ++seed, -1, 1, "weight");
        Tensor b = random_tensor({s.out}, ++seed, -1, 1, "bias");
        Tensor y = poisoned_tensor({s.rows, s.out}, "y");
        CommandSequence seq(ctx());
        ops::linear_forward(seq, x, w, with_bias ? &b : nullptr, y);
        seq.run();
        std::vector<double> hb = with_bias ? to_double(download_f32(b)) : std::vector<double>{};
        auto ref = reference::linear_forward(to_double(download_f32(x)), to_double(download_f32(w)), hb, s);
        expect_close(download_f32(y), ref, kTolerance, "linear forward " + describe(s) + (with_bias ? " bias" : ""));
      }
  });
}

TEST_F(LinearTest, BackwardMatchesReference) {
  for_each_variant([&](KernelVariant) {
    uint64_t seed = 200;
    for (const LinearShape& s : kShapes)
      for (bool accumulate : {false, true}) {
        Tensor x = random_tensor({s.rows, s.in}, ++seed, -1, 1, "x");
        Tensor w = random_tensor({s.out, s.in}, ++seed, -1, 1, "weight");
        Tensor dy = random_tensor({s.rows, s.out}, ++seed, -1, 1, "dy");
        Tensor dx = accumulate ? random_tensor({s.rows, s.in}, ++seed, -1, 1, "dx") : poisoned_tensor({s.rows, s.in}, "dx");
        Tensor dw = poisoned_tensor({s.out, s.in}, "dweight");
        Tensor db = poisoned_tensor({s.out}, "dbias");
        auto dx_before = download_f32(dx);
        CommandSequence seq(ctx());
        ops::linear_backward(seq, x, w, dy, &dx, dw, &db, accumulate);
        seq.run();
        auto ref = reference::linear_backward(to_double(download_f32(x)), to_double(download_f32(w)),
                                              to_double(download_f32(dy)), s);
        if (accumulate)
          for (size_t i = 0; i < ref.dx.size(); ++i) ref.dx[i] += dx_before[i];
        std::string what = describe(s) + (accumulate ? " accumulate" : "");
        expect_close(download_f32(dx), ref.dx, kTolerance, "dx " + what);
        expect_close(download_f32(dw), ref.dweight, kTolerance, "dweight " + what);
        expect_close(download_f32(db), ref.dbias, kTolerance, "dbias " + what);
      }
  });
}

// The reference backward against central differences of the reference forward, for the loss
// L = sum(y * g), whose gradient with respect to y is g.
TEST(LinearReferenceTest, BackwardMatchesFiniteDifferences) {
  LinearShape s{3, 4, 5};
  auto x = to_double(random_floats(12, 1)), w = to_double(random_floats(20, 2)), b = to_double(random_floats(5, 3));
  auto g = to_double(random_floats(15, 4));
  auto loss = [&](const std::vector<double>& xv, const std::vector<double>& wv, const std::vector<double>& bv) {
    auto y = reference::linear_forward(xv, wv, bv, s);
    double l = 0;
    for (size_t i = 0; i < y.size(); ++i) l += y[i] * g[i];
    return l;
  };
  auto grads = reference::linear_backward(x, w, g, s);
  auto check = [](const std::vector<double>& analytic, const std::vector<double>& numeric, const char* what) {
    ASSERT_EQ(analytic.size(), numeric.size());
    for (size_t i = 0; i < analytic.size(); ++i) EXPECT_NEAR(analytic[i], numeric[i], 1e-7) << what << " " << i;
  };
  check(grads.dx, finite_difference([&](const std::vector<double>& v) { return loss(v, w, b); }, x), "dx");
  check(grads.dweight, finite_difference([&](const std::vector<double>& v) { return loss(x, v, b); }, w), "dweight");
  check(grads.dbias, finite_difference([&](const std::vector<double>& v) { return loss(x, w, v); }, b), "dbias");
}

TEST_F(LinearTest, ErrorsNameTheTensors) {
  Tensor x = random_tensor({4, 6}, 1, -1, 1, "x");
  Tensor w = random_tensor({3, 5}, 2, -1, 1, "weight");
  Tensor y = poisoned_tensor({4, 3}, "y");
  CommandSequence seq(ctx());
  try {
    ops::linear_forward(seq, x, w, nullptr, y);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("x [4,6] f32"), std::string::npos) << what;
    EXPECT_NE(what.find("weight [3,5] f32"), std::string::npos) << what;
  }
  Tensor w_ok = random_tensor({3, 6}, 3, -1, 1, "weight");
  Tensor ints = arena().allocate({3}, DType::I32, "bias");
  EXPECT_THROW(ops::linear_forward(seq, x, w_ok, &ints, y), ShapeError);
  Tensor wrong_dw = poisoned_tensor({6, 3}, "dweight");
  EXPECT_THROW(ops::linear_backward(seq, x, w_ok, y, nullptr, wrong_dw, nullptr, false), ShapeError);
}

}  // namespace
}  // namespace tessera::testing
