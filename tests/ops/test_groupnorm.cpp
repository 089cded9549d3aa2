// GroupNorm (+ fused SiLU) forward and backward vs the double-precision reference, on odd shapes,
// large groups, batch-strided views, both kernel variants (they differ in workgroup size and so
// in summation order).
#include <cmath>
#include <cstring>

#include "ops/reference/concat.hpp"
#include "ops/reference/groupnorm.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/groupnorm.hpp"

namespace tessera::testing {
namespace {

using reference::GroupNormProblem;

struct Case {
  int64_t n, c, h, w, groups;
};

std::string case_name(const Case& k, bool silu) {
  return "N" + std::to_string(k.n) + " C" + std::to_string(k.c) + " " + std::to_string(k.h) + "x" +
         std::to_string(k.w) + " G" + std::to_string(k.groups) + (silu ? " +silu" : "");
}

// Odd spatial sizes (scalar kernels; H*W % 4 == 0 takes the four-wide ones), channel counts that are not multiples of any tile, batch 1..3, 1x1 images,
// and groups of 16384 and 32768 elements (the U-Net's largest). Not groups of 2 elements: there
// xhat = +-1 whatever x is, so dx is pure cancellation (|dx| ~ 1e-3 |dy|) and its relative error
// says nothing about the kernel.
const std::vector<Case> kCases = {{2, 6, 7, 5, 3},   {1, 64, 8, 8, 32},   {3, 96, 4, 6, 32},
                                  {3, 6, 1, 1, 2},   {1, 128, 32, 32, 8}, {1, 16, 64, 64, 2}};

class GroupNormTest : public VulkanTest {
 protected:
  // Inputs away from zero mean (so the mean matters) and gamma away from zero.
  Tensor input(const Case& k, uint64_t seed) { return random_tensor({k.n, k.c, k.h, k.w}, seed, -1.5f, 2.5f, "x"); }
  Tensor gamma(const Case& k, uint64_t seed) { return random_tensor({k.c}, seed, 0.5f, 1.5f, "gamma"); }
  Tensor beta(const Case& k, uint64_t seed) { return random_tensor({k.c}, seed, -0.5f, 0.5f, "beta"); }
  Tensor stats(const Case& k) { return poisoned_tensor({k.n, k.groups, 2}, "stats"); }
};

GroupNormProblem problem(const Case& k, bool silu) { return {k.n, k.c, k.h, k.w, k.groups, 1e-5, silu}; }

std::vector<double> host(const Tensor& t) { return to_double(download_f32(t)); }

std::vector<double> interleave_stats(const reference::GroupNormOutputs& o) {
  std::vector<double> s;
  for (size_t i = 0; i < o.mean.size(); ++i) {
    s.push_back(o.mean[i]);
    s.push_back(o.rstd[i]);
  }
  return s;
}

TEST_F(GroupNormTest, ForwardMatchesReference) {
  for_each_variant([&](KernelVariant) {
    for (const Case& k : kCases)
      for (bool silu : {false, true}) {
        Tensor x = input(k, 1), g = gamma(k, 2), b = beta(k, 3);
        Tensor y = poisoned_tensor({k.n, k.c, k.h, k.w}, "y"), s = stats(k);
        CommandSequence seq(ctx());
        ops::groupnorm_forward(seq, x, g, b, y, s, {k.groups, 1e-5f, silu});
        seq.run();
        auto ref = reference::groupnorm_forward(problem(k, silu), host(x), host(g), host(b));
        // Per element a handful of roundings on top of the two-pass statistics: ~1e-6.
        expect_close(download_f32(y), ref.y, 1e-4, "y " + case_name(k, silu));
        expect_close(download_f32(s), interleave_stats(ref), 1e-5, "stats " + case_name(k, silu));
      }
  });
}

TEST_F(GroupNormTest, StatisticsSurviveALargeMean) {
  // x = 100 + U(-1, 1): E[x^2] - E[x]^2 would lose ~ 100^2 / 0.33 * 6e-8 = 0.2% of the variance
  // in fp32 (and more with a sequential sum); the two-pass sums keep rstd within 1e-4 here.
  // y itself cannot be better than the fp32 mean: storing mean ~ 100 rounds it by up to
  // ulp(100) / 2 = 3.8e-6, plus ~1 ulp from the sum, so (x - mean) is off by ~1e-5 absolute, and y by
  // that * rstd (1.73) * gamma (< 1.5) = 2.6e-5 absolute, i.e. 1e-5 of y's scale (2.6). So y is
  // compared relative to its scale (floor_fraction 1) with a 2e-5 bound; elements near zero have a
  // large relative error in any fp32 implementation (PyTorch's included).
  Case k{2, 8, 16, 16, 2};
  Tensor x = random_tensor({k.n, k.c, k.h, k.w}, 7, 99.0f, 101.0f, "x");
  Tensor g = gamma(k, 8), b = beta(k, 9), y = poisoned_tensor({k.n, k.c, k.h, k.w}, "y"), s = stats(k);
  CommandSequence seq(ctx());
  ops::groupnorm_forward(seq, x, g, b, y, s, {k.groups, 1e-5f, false});
  seq.run();
  auto ref = reference::groupnorm_forward(problem(k, false), host(x), host(g), host(b));
  expect_close(download_f32(y), ref.y, 2e-5, "y with mean 100", /*floor_fraction=*/1.0);
  auto got = download_f32(s);
  for (size_t i = 0; i < ref.rstd.size(); ++i)
    EXPECT_NEAR(got[2 * i + 1], ref.rstd[i], 1e-4 * ref.rstd[i]) << "rstd of group " << i;
}

TEST_F(GroupNormTest, BackwardMatchesReference) {
  for_each_variant([&](KernelVariant) {
    for (const Case& k : kCases)
      for (bool silu : {false, true})
        for (bool accumulate : {false, true}) {
          Shape shape{k.n, k.c, k.h, k.w};
          Tensor x = input(k, 11), g = gamma(k, 12), b = beta(k, 13), dy = random_tensor(shape, 14, -1, 1, "dy");
          Tensor y = poisoned_tensor(shape, "y"), s = stats(k);
          Tensor dx = accumulate ? random_tensor(shape, 15, -1, 1, "dx") : poisoned_tensor(shape, "dx");
          Tensor dgamma = poisoned_tensor({k.c}, "dgamma"), dbeta = poisoned_tensor({k.c}, "dbeta");
          Tensor scratch = poisoned_tensor(ops::groupnorm_backward_scratch_shape(shape), "scratch");
          std::vector<double> dx_before = accumulate ? host(dx) : std::vector<double>(x.numel(), 0.0);
          ops::GroupNormParams params{k.groups, 1e-5f, silu};
          CommandSequence seq(ctx());
          ops::groupnorm_forward(seq, x, g, b, y, s, params);
          ops::groupnorm_backward(seq, x, g, b, s, dy, dx, dgamma, dbeta, scratch, params, accumulate);
          seq.run();
          auto ref = reference::groupnorm_backward(problem(k, silu), host(x), host(g), host(b), host(dy));
          for (size_t i = 0; i < dx_before.size(); ++i) ref.dx[i] += dx_before[i];
          std::string what = case_name(k, silu) + (accumulate ? " accumulate" : "");
          // No looser bound is needed for large groups: the group means A/M and B/M are fp32 sums of
          // M terms (<= 32768/L per lane, then a tree), relative error ~ (M/L + log2 L) * 6e-8 ~ 3e-5
          // in the worst case, ~1e-6 typically, and dx = rstd * (dxhat - A/M - xhat B/M) has no
          // cancellation for unrelated dy. Measured worst (both variants, all cases): dx 9e-6,
          // dgamma 7e-6, y 4e-6.
          expect_close(download_f32(dx), ref.dx, 1e-4, "dx " + what);
          expect_close(download_f32(dgamma), ref.dgamma, 1e-4, "dgamma " + what);
          expect_close(download_f32(dbeta), ref.dbeta, 1e-4, "dbeta " + what);
        }
  });
}

// The reference backward is what the GPU is held to, so check it against finite differences of
// the reference forward: loss = sum(y * w) for a random w, all in double.
TEST_F(GroupNormTest, ReferenceBackwardMatchesFiniteDifferences) {
  for (bool silu : {false, true}) {
    GroupNormProblem p{2, 4, 3, 2, 2, 1e-5, silu};
    int64_t size = p.n * p.c * p.h * p.w;
    auto x = to_double(random_floats(size, 21, -1.5f, 2.5f));
    auto gamma = to_double(random_floats(p.c, 22, 0.5f, 1.5f));
    auto beta = to_double(random_floats(p.c, 23, -0.5f, 0.5f));
    auto w = to_double(random_floats(size, 24, -1.0f, 1.0f));
    auto loss = [&](const std::vector<double>& xv, const std::vector<double>& gv, const std::vector<double>& bv) {
      auto y = reference::groupnorm_forward(p, xv, gv, bv).y;
      double l = 0;
      for (size_t i = 0; i < y.size(); ++i) l += y[i] * w[i];
      return l;
    };
    auto analytic = reference::groupnorm_backward(p, x, gamma, beta, w);
    auto fd_x = finite_difference([&](const std::vector<double>& v) { return loss(v, gamma, beta); }, x);
    auto fd_gamma = finite_difference([&](const std::vector<double>& v) { return loss(x, v, beta); }, gamma);
    auto fd_beta = finite_difference([&](const std::vector<double>& v) { return loss(x, gamma, v); }, beta);
    // Central differences with h = 1e-5 in double: truncation ~h^2 * f''' ~ 1e-9, rounding ~1e-11.
    auto to_float = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
    std::string tag = silu ? " +silu" : "";
    expect_close(to_float(analytic.dx), fd_x, 1e-5, "reference dx vs finite differences" + tag);
    expect_close(to_float(analytic.dgamma), fd_gamma, 1e-5, "reference dgamma vs finite differences" + tag);
    expect_close(to_float(analytic.dbeta), fd_beta, 1e-5, "reference dbeta vs finite differences" + tag);
  }
}

// x and dy are channel views of concat buffers (the decoder's [h, skip] input), y and dx views
// of larger buffers too; elements outside the views must stay untouched.
// 7x5 takes the scalar kernels, 4x6 the four-wide ones (batch stride 15 * 24, a multiple of 4).
TEST_F(GroupNormTest, WorksOnBatchStridedChannelViews) {
  for (auto [h, w] : {std::pair<int64_t, int64_t>{7, 5}, {4, 6}})
  for (bool silu : {false, true}) {
    const int64_t n = 2, c = 8, groups = 4, before = 4, after = 3, total = before + c + after;
    const int64_t hw = h * w;  // before * hw is a multiple of 4 elements: 16-byte aligned views
    Shape parent_shape{n, total, h, w};
    Tensor x_parent = random_tensor(parent_shape, 31, -1.5f, 2.5f, "x_concat");
    Tensor dy_parent = random_tensor(parent_shape, 32, -1, 1, "dy_concat");
    Tensor y_parent = random_tensor(parent_shape, 33, -1, 1, "y_concat");
    Tensor dx_parent = random_tensor(parent_shape, 34, -1, 1, "dx_concat");
    Tensor x = x_parent.channel_slice(before, c), dy = dy_parent.channel_slice(before, c);
    Tensor y = y_parent.channel_slice(before, c), dx = dx_parent.channel_slice(before, c);
    Tensor g = random_tensor({c}, 35, 0.5f, 1.5f, "gamma"), b = random_tensor({c}, 36, -0.5f, 0.5f, "beta");
    Tensor s = poisoned_tensor({n, groups, 2}, "stats"), scratch = poisoned_tensor({n, c, 2}, "scratch");
    Tensor dgamma = poisoned_tensor({c}, "dgamma"), dbeta = poisoned_tensor({c}, "dbeta");
    auto y_before = download_f32(y_parent), dx_before = download_f32(dx_parent);
    ops::GroupNormParams params{groups, 1e-5f, silu};
    CommandSequence seq(ctx());
    ops::groupnorm_forward(seq, x, g, b, y, s, params);
    ops::groupnorm_backward(seq, x, g, b, s, dy, dx, dgamma, dbeta, scratch, params, /*accumulate=*/true);
    seq.run();

    GroupNormProblem p{n, c, h, w, groups, 1e-5, silu};
    auto xv = reference::slice_channels(host(x_parent), n, total, before, c, hw);
    auto dyv = reference::slice_channels(host(dy_parent), n, total, before, c, hw);
    auto fwd = reference::groupnorm_forward(p, xv, host(g), host(b));
    auto bwd = reference::groupnorm_backward(p, xv, host(g), host(b), dyv);
    auto dx_old = reference::slice_channels(to_double(dx_before), n, total, before, c, hw);
    for (size_t i = 0; i < dx_old.size(); ++i) bwd.dx[i] += dx_old[i];
    auto y_after = download_f32(y_parent), dx_after = download_f32(dx_parent);
    auto y_view = reference::slice_channels(to_double(y_after), n, total, before, c, hw);
    auto dx_view = reference::slice_channels(to_double(dx_after), n, total, before, c, hw);
    std::string tag = std::to_string(h) + "x" + std::to_string(w) + (silu ? " +silu" : "");
    expect_close(std::vector<float>(y_view.begin(), y_view.end()), fwd.y, 1e-4, "y view" + tag);
    expect_close(std::vector<float>(dx_view.begin(), dx_view.end()), bwd.dx, 1e-4, "dx view" + tag);
    expect_close(download_f32(dgamma), bwd.dgamma, 1e-4, "dgamma" + tag);
    expect_close(download_f32(dbeta), bwd.dbeta, 1e-4, "dbeta" + tag);
    for (int64_t i = 0; i < n * total * hw; ++i) {
      int64_t channel = i / hw % total;
      if (channel >= before && channel < before + c) continue;
      ASSERT_EQ(std::memcmp(&y_after[i], &y_before[i], 4), 0) << "y element " << i << " outside the view was written";
      ASSERT_EQ(std::memcmp(&dx_after[i], &dx_before[i], 4), 0) << "dx element " << i << " outside the view was written";
    }
  }
}

TEST_F(GroupNormTest, ReplayIsBitIdentical) {
  Case k{2, 64, 16, 16, 32};
  Shape shape{k.n, k.c, k.h, k.w};
  Tensor x = input(k, 41), g = gamma(k, 42), b = beta(k, 43), dy = random_tensor(shape, 44, -1, 1, "dy");
  Tensor y = poisoned_tensor(shape, "y"), s = stats(k), dx = poisoned_tensor(shape, "dx");
  Tensor dgamma = poisoned_tensor({k.c}, "dgamma"), dbeta = poisoned_tensor({k.c}, "dbeta");
  Tensor scratch = poisoned_tensor(ops::groupnorm_backward_scratch_shape(shape), "scratch");
  ops::GroupNormParams params{k.groups, 1e-5f, true};
  CommandSequence seq(ctx());
  ops::groupnorm_forward(seq, x, g, b, y, s, params);
  ops::groupnorm_backward(seq, x, g, b, s, dy, dx, dgamma, dbeta, scratch, params, false);
  seq.run();
  auto first = std::vector<std::vector<float>>{download_f32(y), download_f32(dx), download_f32(dgamma)};
  seq.run();
  auto second = std::vector<std::vector<float>>{download_f32(y), download_f32(dx), download_f32(dgamma)};
  for (size_t t = 0; t < first.size(); ++t)
    EXPECT_EQ(std::memcmp(first[t].data(), second[t].data(), first[t].size() * 4), 0) << "output " << t;
}

TEST_F(GroupNormTest, RejectsBadShapesWithClearErrors) {
  Tensor x = random_tensor({2, 6, 4, 4}, 51, -1, 1, "x");
  Tensor g = random_tensor({6}, 52, -1, 1, "gamma"), b = random_tensor({6}, 53, -1, 1, "beta");
  Tensor y = poisoned_tensor({2, 6, 4, 4}, "y");
  CommandSequence seq(ctx());
  auto expect_error = [&](const std::function<void()>& f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "expected ShapeError mentioning '" << needle << "'";
    } catch (const ShapeError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  // 4 groups do not divide 6 channels.
  Tensor s4 = poisoned_tensor({2, 4, 2}, "stats4");
  expect_error([&] { ops::groupnorm_forward(seq, x, g, b, y, s4, {4, 1e-5f, false}); }, "4 groups do not divide");
  Tensor s3 = poisoned_tensor({2, 3, 2}, "stats");
  Tensor bad_gamma = random_tensor({3}, 54, -1, 1, "gamma3");
  expect_error([&] { ops::groupnorm_forward(seq, x, bad_gamma, b, y, s3, {3, 1e-5f, false}); }, "gamma3 [3] f32");
  Tensor bad_stats = poisoned_tensor({2, 3}, "stats_flat");
  expect_error([&] { ops::groupnorm_forward(seq, x, g, b, y, bad_stats, {3, 1e-5f, false}); }, "[2,3,2]");
  Tensor bad_y = poisoned_tensor({2, 6, 4, 5}, "y_wide");
  expect_error([&] { ops::groupnorm_forward(seq, x, g, b, bad_y, s3, {3, 1e-5f, false}); }, "y_wide");
  // A channel view starting at byte 3 * 5 * 4 = 60 cannot be bound as a descriptor.
  Tensor parent = random_tensor({1, 9, 1, 5}, 55, -1, 1, "parent");
  Tensor unaligned = parent.channel_slice(3, 6);
  Tensor y1 = poisoned_tensor({1, 6, 1, 5}, "y1"), s1 = poisoned_tensor({1, 3, 2}, "s1");
  expect_error([&] { ops::groupnorm_forward(seq, unaligned, g, b, y1, s1, {3, 1e-5f, false}); }, "not a multiple of");
  Tensor dx = poisoned_tensor({2, 6, 4, 4}, "dx"), dg = poisoned_tensor({6}, "dg"), db = poisoned_tensor({6}, "db");
  Tensor bad_scratch = poisoned_tensor({2, 3, 2}, "scratch_small");
  expect_error([&] { ops::groupnorm_backward(seq, x, g, b, s3, y, dx, dg, db, bad_scratch, {3, 1e-5f, false}, false); },
               "scratch_small");
}

}  // namespace
}  // namespace tessera::testing
