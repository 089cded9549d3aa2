#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "ops/reference/matmul.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/matmul.hpp"

namespace tessera::testing {
namespace {

using ops::MatmulParams;
using ops::MatrixBatch;
using reference::GemmShape;

// Every element is a k-ordered f32 sum of K products of values in [-1, 1]; its rounding error
// grows like sqrt(K) * 2^-24 relative to the sum's scale, about 1e-6 for K = 130.
constexpr double kTolerance = 1e-4;

std::string describe(const GemmShape& s) {
  return "M=" + std::to_string(s.m) + " N=" + std::to_string(s.n) + " K=" + std::to_string(s.k) +
         (s.transpose_a ? " A^T" : "") + (s.transpose_b ? " B^T" : "");
}

// Matrix `index` (of `rows` x `cols`) starting at element `start` of `values`, as doubles.
std::vector<double> extract(const std::vector<float>& values, int64_t start, int64_t count) {
  return std::vector<double>(values.begin() + start, values.begin() + start + count);
}

class MatmulTest : public VulkanTest {
 protected:
  // Runs one unbatched product with poisoned C and compares every element.
  void check_single(const GemmShape& s, float alpha, uint64_t seed) {
    Shape a_shape = s.transpose_a ? Shape{s.k, s.m} : Shape{s.m, s.k};
    Shape b_shape = s.transpose_b ? Shape{s.n, s.k} : Shape{s.k, s.n};
    Tensor a = random_tensor(a_shape, seed, -1, 1, "a");
    Tensor b = random_tensor(b_shape, seed + 1, -1, 1, "b");
    Tensor c = poisoned_tensor({s.m, s.n}, "c");
    CommandSequence seq(ctx());
    ops::matmul(seq, a, b, c, s.transpose_a, s.transpose_b, alpha);
    seq.run();
    auto ref = reference::matmul(to_double(download_f32(a)), to_double(download_f32(b)), s);
    for (double& v : ref) v *= alpha;
    expect_close(download_f32(c), ref, kTolerance, describe(s));
  }
};

TEST_F(MatmulTest, AllTransposesOddAndAlignedSizes) {
  // Odd sizes exercise the clamped edges and the k tail; multiples of 4 the vec4 fetches.
  const std::vector<std::array<int64_t, 3>> sizes = {
      {1, 1, 1}, {7, 33, 65}, {33, 7, 130}, {65, 130, 7}, {130, 65, 33}, {12, 36, 20}, {64, 96, 68}};
  for_each_variant([&](KernelVariant) {
    uint64_t seed = 10;
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (auto [m, n, k] : sizes) check_single({m, n, k, ta, tb}, 0.75f, seed += 2);
  });
}

// Three products with padding between matrices, two per group, beta != 0 and a bias.
TEST_F(MatmulTest, BatchedGroupedStridesBetaAndBias) {
  for_each_variant([&](KernelVariant) {
    for (GemmShape s : {GemmShape{9, 13, 17, true, false}, GemmShape{8, 12, 16, false, true},
                        GemmShape{16, 8, 36, true, true}, GemmShape{5, 3, 2, false, false}}) {
      const int64_t batch = 3, group_size = 2;
      auto layout = [&](int64_t rows, int64_t cols, int64_t pad) {
        int64_t stride = rows * cols + pad;
        return MatrixBatch{Tensor{}, 4 * pad, stride, 2 * stride + 3 * pad};
      };
      MatrixBatch a = layout(s.m, s.k, 4), b = layout(s.k, s.n, 8), c = layout(s.m, s.n, 12);
      auto size = [&](const MatrixBatch& x, int64_t count) { return x.offset + x.group_stride + x.stride + count + 5; };
      a.tensor = random_tensor({size(a, s.m * s.k)}, 21, -1, 1, "a");
      b.tensor = random_tensor({size(b, s.k * s.n)}, 22, -1, 1, "b");
      c.tensor = random_tensor({size(c, s.m * s.n)}, 23, -1, 1, "c");
      Tensor bias = random_tensor({s.n}, 24, -1, 1, "bias");
      auto c_before = download_f32(c.tensor);
      MatmulParams p{s.m, s.n, s.k, batch, group_size, s.transpose_a, s.transpose_b, -1.5f, 0.5f, &bias};
      CommandSequence seq(ctx());
      ops::matmul(seq, a, b, c, p);
      seq.run();

      auto ha = download_f32(a.tensor), hb = download_f32(b.tensor), hbias = download_f32(bias);
      std::vector<double> ref = to_double(c_before);  // elements between matrices stay as they were
      for (int64_t i = 0; i < batch; ++i) {
        auto base = [&](const MatrixBatch& x) { return x.offset + (i / group_size) * x.group_stride + (i % group_size) * x.stride; };
        auto prod = reference::matmul(extract(ha, base(a), s.m * s.k), extract(hb, base(b), s.k * s.n), s);
        for (int64_t e = 0; e < s.m * s.n; ++e)
          ref[base(c) + e] = -1.5 * prod[e] + 0.5 * double(c_before[base(c) + e]) + hbias[e % s.n];
      }
      expect_close(download_f32(c.tensor), ref, kTolerance, "batched " + describe(s));
    }
  });
}

// Rank-3 convenience form, with a rank-2 B shared by every product.
TEST_F(MatmulTest, DenseBatchedWithSharedOperand) {
  for_each_variant([&](KernelVariant) {
    Tensor a = random_tensor({4, 10, 6}, 31, -1, 1, "a");
    Tensor b = random_tensor({11, 6}, 32, -1, 1, "b");
    Tensor c = poisoned_tensor({4, 10, 11}, "c");
    CommandSequence seq(ctx());
    ops::matmul(seq, a, b, c, false, true);
    seq.run();
    auto ha = download_f32(a);
    auto hb = to_double(download_f32(b));
    std::vector<double> ref;
    for (int64_t i = 0; i < 4; ++i) {
      auto prod = reference::matmul(extract(ha, i * 60, 60), hb, {10, 11, 6, false, true});
      ref.insert(ref.end(), prod.begin(), prod.end());
    }
    expect_close(download_f32(c), ref, kTolerance, "shared B");
  });
}

TEST_F(MatmulTest, ReplayIsBitIdentical) {
  for_each_variant([&](KernelVariant) {
    Tensor a = random_tensor({37, 29}, 41, -1, 1, "a");
    Tensor b = random_tensor({29, 45}, 42, -1, 1, "b");
    Tensor c = poisoned_tensor({37, 45}, "c");
    CommandSequence seq(ctx());
    ops::matmul(seq, a, b, c);
    seq.run();
    auto first = download_f32(c);
    seq.run();
    auto second = download_f32(c);
    EXPECT_EQ(0, std::memcmp(first.data(), second.data(), first.size() * sizeof(float)));
  });
}

TEST_F(MatmulTest, ErrorsNameTheTensors) {
  Tensor a = random_tensor({4, 5}, 1, -1, 1, "a");
  Tensor b = random_tensor({6, 3}, 2, -1, 1, "b");
  Tensor c = poisoned_tensor({4, 3}, "c");
  CommandSequence seq(ctx());
  try {
    ops::matmul(seq, a, b, c);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("inner dimensions differ"), std::string::npos) << what;
    EXPECT_NE(what.find("a [4,5] f32"), std::string::npos) << what;
    EXPECT_NE(what.find("b [6,3] f32"), std::string::npos) << what;
  }
  Tensor ints = arena().allocate({5, 3}, DType::I32, "ints");
  EXPECT_THROW(ops::matmul(seq, a, ints, c), ShapeError);
  Tensor small_c = poisoned_tensor({4, 2}, "small_c");
  EXPECT_THROW(ops::matmul(seq, a, b.reshape({3, 6}), small_c, false, true), ShapeError);
  // C overlapping an input, and matrices reaching past their tensor.
  Tensor square = random_tensor({4, 4}, 3, -1, 1, "square");
  EXPECT_THROW(ops::matmul(seq, square, square, square), ShapeError);
  MatmulParams p{4, 3, 5, 2};
  EXPECT_THROW(ops::matmul(seq, MatrixBatch{a, 0, 20}, MatrixBatch{b, 0, 0}, MatrixBatch{c, 0, 12}, p), ShapeError);
}

// The fallback for devices without subgroup broadcast, on a context that leaves subgroups unused.
TEST(MatmulFallbackTest, WithoutSubgroupsMatchesReference) {
  ContextOptions o;
  const char* v = std::getenv("TESSERA_VALIDATION");
  o.validation = !(v && std::string(v) == "0");
  o.disable_subgroups = true;
  o.force_variant = true;
  o.variant = KernelVariant::TexelFetch;
  auto ctx = Context::create(o);
  ASSERT_FALSE(ctx->info().subgroup_basic);
  {
    Arena arena(*ctx, VkDeviceSize(16) << 20, "fallback");
    uint64_t seed = 50;
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (GemmShape s : {GemmShape{7, 66, 33, ta, tb}, GemmShape{68, 8, 12, ta, tb}}) {
          Tensor a = arena.allocate(ta ? Shape{s.k, s.m} : Shape{s.m, s.k}, DType::F32, "a");
          Tensor b = arena.allocate(tb ? Shape{s.n, s.k} : Shape{s.k, s.n}, DType::F32, "b");
          Tensor c = arena.allocate({s.m, s.n}, DType::F32, "c");
          upload_f32(a, random_floats(a.numel(), ++seed));
          upload_f32(b, random_floats(b.numel(), ++seed));
          upload_f32(c, std::vector<float>(c.numel(), std::nanf("")));
          CommandSequence seq(*ctx);
          ops::matmul(seq, a, b, c, ta, tb);
          seq.run();
          auto ref = reference::matmul(to_double(download_f32(a)), to_double(download_f32(b)), s);
          expect_close(download_f32(c), ref, kTolerance, "fallback " + describe(s));
        }
  }
  for (const auto& m : ctx->validation_messages()) ADD_FAILURE() << "Vulkan validation: " << m;
}

// Throughput probe, not a test: run with --gtest_also_run_disabled_tests and TESSERA_VALIDATION=0.
TEST_F(MatmulTest, DISABLED_Throughput) {
  for (auto [m, n, k] : std::vector<std::array<int64_t, 3>>{{256, 256, 256}, {256, 1024, 576}, {1024, 256, 576}}) {
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        Tensor a = random_tensor(ta ? Shape{k, m} : Shape{m, k}, 1, -1, 1, "a");
        Tensor b = random_tensor(tb ? Shape{n, k} : Shape{k, n}, 2, -1, 1, "b");
        Tensor c = poisoned_tensor({m, n}, "c");
        CommandSequence seq(ctx());
        const int reps = 10;
        for (int r = 0; r < reps; ++r) ops::matmul(seq, a, b, c, ta, tb);
        seq.run();  // warm-up
        // Best of three (the machine is shared); process CPU seconds too, which load from other
        // processes inflates less than wall time.
        double s = 1e30, cpu_s = 1e30;
        for (int trial = 0; trial < 3; ++trial) {
          auto t0 = std::chrono::steady_clock::now();
          std::clock_t c0 = std::clock();
          seq.run();
          cpu_s = std::min(cpu_s, double(std::clock() - c0) / CLOCKS_PER_SEC);
          s = std::min(s, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        double gflops = double(ops::matmul_flops(m, n, k)) * reps / s * 1e-9;
        double flops_per_cpu_s = double(ops::matmul_flops(m, n, k)) * reps / cpu_s * 1e-9;
        std::printf("matmul %s M=%ld N=%ld K=%ld%s%s: %.2f ms, %.1f GFLOP/s wall, %.1f GFLOP per CPU-second\n",
                    kernel_variant_name(ctx().variant()), long(m), long(n), long(k), ta ? " A^T" : "", tb ? " B^T" : "",
                    s / reps * 1e3, gflops, flops_per_cpu_s);
      }
  }
}

}  // namespace
}  // namespace tessera::testing
