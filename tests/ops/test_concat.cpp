// Channel concat: the copy kernel and its backward vs the reference, and the preferred no-copy
// path (producers write into concat_channel_views) giving bit-identical results to the copy.
#include <cstring>

#include "ops/reference/concat.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/activation.hpp"
#include "tessera/ops/concat.hpp"
#include "tessera/ops/upsample.hpp"

namespace tessera::testing {
namespace {

class ConcatTest : public VulkanTest {};

std::vector<double> host(const Tensor& t) { return to_double(download_f32(t)); }
std::vector<float> to_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

struct Case {
  int64_t n, ca, cb, h, w;
};
const std::vector<Case> kCases = {{2, 3, 5, 7, 5}, {1, 64, 64, 8, 8}, {3, 1, 2, 1, 1}, {2, 96, 32, 4, 6}};

std::string name(const Case& k) {
  return "N" + std::to_string(k.n) + " " + std::to_string(k.ca) + "+" + std::to_string(k.cb) + " " +
         std::to_string(k.h) + "x" + std::to_string(k.w);
}

TEST_F(ConcatTest, CopyKernelMatchesReference) {
  for (const Case& k : kCases) {
    Tensor a = random_tensor({k.n, k.ca, k.h, k.w}, 1, -2, 2, "a");
    Tensor b = random_tensor({k.n, k.cb, k.h, k.w}, 2, -2, 2, "b");
    Tensor out = poisoned_tensor({k.n, k.ca + k.cb, k.h, k.w}, "out");
    CommandSequence seq(ctx());
    ops::concat_channels(seq, a, b, out);
    seq.run();
    expect_close(download_f32(out), reference::concat_channels(host(a), host(b), k.n, k.ca, k.cb, k.h * k.w), 0.0,
                 "concat " + name(k));
  }
}

TEST_F(ConcatTest, SplitMatchesReference) {
  for (const Case& k : kCases)
    for (bool accumulate : {false, true}) {
      int64_t hw = k.h * k.w, c = k.ca + k.cb;
      Tensor dout = random_tensor({k.n, c, k.h, k.w}, 3, -2, 2, "dout");
      Shape sa{k.n, k.ca, k.h, k.w}, sb{k.n, k.cb, k.h, k.w};
      Tensor da = accumulate ? random_tensor(sa, 4, -1, 1, "da") : poisoned_tensor(sa, "da");
      Tensor db = accumulate ? random_tensor(sb, 5, -1, 1, "db") : poisoned_tensor(sb, "db");
      auto ref_a = reference::slice_channels(host(dout), k.n, c, 0, k.ca, hw);
      auto ref_b = reference::slice_channels(host(dout), k.n, c, k.ca, k.cb, hw);
      if (accumulate) {
        auto a0 = host(da), b0 = host(db);
        for (size_t i = 0; i < ref_a.size(); ++i) ref_a[i] += a0[i];
        for (size_t i = 0; i < ref_b.size(); ++i) ref_b[i] += b0[i];
      }
      CommandSequence seq(ctx());
      ops::split_channels(seq, dout, da, db, accumulate);
      seq.run();
      // Overwrite is a copy (exact); accumulate is one fp32 addition (half an ulp of the sum).
      double tol = accumulate ? 1e-6 : 0.0;
      std::string what = name(k) + (accumulate ? " accumulate" : "");
      expect_close(download_f32(da), ref_a, tol, "da " + what);
      expect_close(download_f32(db), ref_b, tol, "db " + what);
    }
}

// The preferred path: producers write straight into the halves of the concat. Here h comes from
// a SiLU and the skip from an upsample of odd 7x5 images (first half of 4 channels so the second
// view is 16-byte aligned); the result must equal producing dense tensors and copying them.
TEST_F(ConcatTest, WritingThroughViewsEqualsTheCopyKernel) {
  const int64_t n = 2, ca = 4, cb = 3, h = 14, w = 10;
  Tensor h_in = random_tensor({n, ca, h, w}, 6, -4, 4, "h_in");
  Tensor skip_in = random_tensor({n, cb, h / 2, w / 2}, 7, -2, 2, "skip_in");
  Tensor via_views = poisoned_tensor({n, ca + cb, h, w}, "concat_views");
  Tensor h_dense = poisoned_tensor({n, ca, h, w}, "h"), skip_dense = poisoned_tensor({n, cb, h, w}, "skip");
  Tensor via_copy = poisoned_tensor({n, ca + cb, h, w}, "concat_copy");
  ops::ConcatViews views = ops::concat_channel_views(via_views, ca);
  EXPECT_EQ(views.first.shape(), (Shape{n, ca, h, w}));
  EXPECT_EQ(views.second.shape(), (Shape{n, cb, h, w}));
  EXPECT_EQ(views.second.batch_stride(), (ca + cb) * h * w);
  CommandSequence seq(ctx());
  ops::silu_forward(seq, h_in, views.first);
  ops::upsample_nearest2x_forward(seq, skip_in, views.second);
  ops::silu_forward(seq, h_in, h_dense);
  ops::upsample_nearest2x_forward(seq, skip_in, skip_dense);
  ops::concat_channels(seq, h_dense, skip_dense, via_copy);
  seq.run();
  auto a = download_f32(via_views), b = download_f32(via_copy);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << "views and copy differ";
  expect_close(a, reference::concat_channels(host(h_dense), host(skip_dense), n, ca, cb, h * w), 0.0, "concat via views");

  // Backward: the gradient halves are views of the concat's gradient, the same values that
  // split_channels copies out; a consumer reading the view sees exactly the split result.
  Tensor dconcat = random_tensor({n, ca + cb, h, w}, 8, -1, 1, "dconcat");
  ops::ConcatViews grads = ops::concat_channel_views(dconcat, ca);
  Tensor dh_split = poisoned_tensor({n, ca, h, w}, "dh_split"), dskip_split = poisoned_tensor({n, cb, h, w}, "dskip_split");
  Tensor dh_in_views = poisoned_tensor({n, ca, h, w}, "dh_in_views"), dh_in_split = poisoned_tensor({n, ca, h, w}, "dh_in_split");
  CommandSequence back(ctx());
  ops::split_channels(back, dconcat, dh_split, dskip_split, false);
  ops::silu_backward(back, h_in, grads.first, dh_in_views, false);
  ops::silu_backward(back, h_in, dh_split, dh_in_split, false);
  back.run();
  auto gv = download_f32(dh_in_views), gs = download_f32(dh_in_split);
  EXPECT_EQ(std::memcmp(gv.data(), gs.data(), gv.size() * 4), 0) << "gradient through view and through split differ";
  expect_close(download_f32(dskip_split), reference::slice_channels(host(dconcat), n, ca + cb, ca, cb, h * w), 0.0,
               "skip gradient");
}

TEST_F(ConcatTest, ReferenceBackwardMatchesFiniteDifferences) {
  const int64_t n = 2, ca = 2, cb = 3, hw = 6;
  auto a = to_double(random_floats(n * ca * hw, 9, -1, 1)), b = to_double(random_floats(n * cb * hw, 10, -1, 1));
  auto w = to_double(random_floats(n * (ca + cb) * hw, 11, -1, 1));
  auto loss = [&](const std::vector<double>& av, const std::vector<double>& bv) {
    auto y = reference::concat_channels(av, bv, n, ca, cb, hw);
    double l = 0;
    for (size_t i = 0; i < y.size(); ++i) l += y[i] * w[i];
    return l;
  };
  expect_close(to_float(reference::slice_channels(w, n, ca + cb, 0, ca, hw)),
               finite_difference([&](const std::vector<double>& v) { return loss(v, b); }, a), 1e-6, "d concat / d a");
  expect_close(to_float(reference::slice_channels(w, n, ca + cb, ca, cb, hw)),
               finite_difference([&](const std::vector<double>& v) { return loss(a, v); }, b), 1e-6, "d concat / d b");
}

TEST_F(ConcatTest, RejectsBadShapesAndUnalignedViews) {
  Tensor a = random_tensor({2, 3, 7, 5}, 12, -1, 1, "a"), b = random_tensor({2, 5, 7, 5}, 13, -1, 1, "b");
  Tensor wrong = poisoned_tensor({2, 7, 7, 5}, "out7");
  CommandSequence seq(ctx());
  try {
    ops::concat_channels(seq, a, b, wrong);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("out7 [2,7,7,5] f32 should have shape [2,8,7,5]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ops::split_channels(seq, wrong, a, b, false), ShapeError);
  // 3 channels of 7x5 = 105 floats = 420 bytes: the second view could not be bound.
  Tensor concat = poisoned_tensor({2, 8, 7, 5}, "concat");
  try {
    ops::concat_channel_views(concat, 3);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("not a multiple of"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ops::concat_channel_views(concat, 8), ShapeError);
  EXPECT_NO_THROW(ops::concat_channel_views(concat, 4));
}

}  // namespace
}  // namespace tessera::testing
