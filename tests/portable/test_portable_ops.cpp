// Every op of a portable-mode sampling step (docs/portable.md §3) on the device against the test
// oracle's scalar loop (tests/portable/oracle.hpp), bit for bit, on both kernel variants, at the
// shapes of the bundled model. These localise a mismatch of the whole generation
// (test_portable_generation.cpp) to one op. Inputs include subnormals and -0 where the op
// reads parameters, so the contract's flushing is exercised.
#include <limits>
#include <optional>

#include "portable/oracle.hpp"
#include "portable/portable_test_support.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/ops/activation.hpp"
#include "tessera/ops/attention.hpp"
#include "tessera/ops/concat.hpp"
#include "tessera/ops/conv2d.hpp"
#include "tessera/ops/diffusion.hpp"
#include "tessera/ops/elementwise.hpp"
#include "tessera/ops/embedding.hpp"
#include "tessera/ops/groupnorm.hpp"
#include "tessera/ops/linear.hpp"
#include "tessera/ops/timestep_embedding.hpp"
#include "tessera/ops/upsample.hpp"
#include "tessera/portable_math.hpp"

namespace tessera::testing {
namespace {

// Fails unless every element of `got` has the bits of `want` (see bit_differences).
void expect_same_bits(std::span<const float> got, std::span<const float> want, const std::string& what) {
  const std::string report = bit_differences(got, want);
  if (!report.empty()) ADD_FAILURE() << what << ": differs from the oracle: " << report;
}

oracle::Tensor4 host(const Tensor& t) {
  oracle::Tensor4 h(int(t.dim(0)), int(t.dim(1)), int(t.dim(2)), int(t.dim(3)));
  h.v = download_f32(t);
  return h;
}

class PortableOpsTest : public VulkanTest {
 protected:
  void SetUp() override {
    VulkanTest::SetUp();
    mode_.emplace(ctx(), true);
  }
  void TearDown() override {
    mode_.reset();
    VulkanTest::TearDown();
  }
  // Parameters as a model file may hold them: some subnormal and some -0, which the contract
  // flushes to +0 on read.
  Tensor parameter(const Shape& shape, uint64_t seed, float lo, float hi, const std::string& name) {
    std::vector<float> v = random_floats(size_t(shape_numel(shape)), seed, lo, hi);
    for (size_t i = 0; i < v.size(); i += 37) v[i] = (i / 37) % 2 ? -0.0f : std::numeric_limits<float>::denorm_min();
    Tensor t = arena().allocate(shape, DType::F32, name);
    upload_f32(t, v);
    return t;
  }
  // Runs `record` on both kernel variants and compares the result with `want`.
  void check(const std::function<void(CommandSequence&)>& record, const Tensor& result, const std::vector<float>& want,
             const std::string& what) {
    for_each_variant([&](KernelVariant v) {
      upload_f32(result, std::vector<float>(size_t(result.numel()), std::numeric_limits<float>::quiet_NaN()));
      CommandSequence seq(ctx());
      record(seq);
      seq.finish();
      seq.run();
      expect_same_bits(download_f32(result), want, what + " (" + kernel_variant_name(v) + ")");
    });
  }

 private:
  std::optional<PortableModeScope> mode_;
};

TEST_F(PortableOpsTest, Conv2dMatchesOracle) {
  struct Case {
    int64_t cin, cout, size;
    ops::Conv2dParams p;
  };
  // The bundled model's convolutions: conv_in, 3x3 at every level (circular), the stride-2
  // downsample, the 1x1 skip / qkv / proj convolutions, and zero padding.
  for (const Case& k :
       {Case{3, 32, 32, {3, 1, ops::Padding::Circular}}, Case{64, 64, 16, {3, 1, ops::Padding::Circular}},
        Case{32, 32, 32, {3, 2, ops::Padding::Circular}}, Case{96, 64, 8, {1, 1, ops::Padding::Zeros}},
        Case{40, 24, 8, {3, 1, ops::Padding::Zeros}}}) {
    const std::string what = "conv2d " + std::to_string(k.cin) + "->" + std::to_string(k.cout) + " k" +
                             std::to_string(k.p.kernel) + " s" + std::to_string(k.p.stride) + " " +
                             ops::padding_name(k.p.padding);
    Tensor x = random_tensor({2, k.cin, k.size, k.size}, 1, -2.0f, 2.0f, "x");
    Tensor w = parameter({k.cout, k.cin, k.p.kernel, k.p.kernel}, 2, -0.2f, 0.2f, "w");
    Tensor b = parameter({k.cout}, 3, -0.5f, 0.5f, "b");
    const int64_t out = ops::conv2d_output_size(k.size, k.p);
    Tensor y = arena().allocate({2, k.cout, out, out}, DType::F32, "y");
    const oracle::Tensor4 want =
        oracle::conv2d(host(x), download_f32(w), download_f32(b), int(k.cout), k.p.kernel, k.p.stride,
                       k.p.padding == ops::Padding::Circular ? oracle::Padding::Circular : oracle::Padding::Zeros);
    check([&](CommandSequence& seq) { ops::conv2d_forward(seq, x, w, &b, y, k.p); }, y, want.v, what);
  }
}

TEST_F(PortableOpsTest, GroupNormMatchesOracle) {
  struct Case {
    int64_t c, size, groups;
  };
  // Groups of 4x32x32 = 4096 elements (more than the 64 lanes many times), 8x4x4 = 128, and 40
  // (fewer than 64 lanes: empty lanes add +0).
  for (const Case& k : {Case{32, 32, 8}, Case{64, 4, 8}, Case{20, 2, 2}})
    for (bool silu : {false, true}) {
      const std::string what = "groupnorm C" + std::to_string(k.c) + " " + std::to_string(k.size) + "x" +
                               std::to_string(k.size) + " G" + std::to_string(k.groups) + (silu ? " +silu" : "");
      Tensor x = random_tensor({2, k.c, k.size, k.size}, 4, -1.5f, 2.5f, "x");
      Tensor gamma = parameter({k.c}, 5, 0.5f, 1.5f, "gamma");
      Tensor beta = parameter({k.c}, 6, -0.5f, 0.5f, "beta");
      Tensor y = arena().allocate(x.shape(), DType::F32, "y");
      ops::GroupNormParams p{k.groups, 1e-5f, silu};
      Tensor stats = arena().allocate(ops::groupnorm_stats_shape(x.shape(), p), DType::F32, "stats");
      const oracle::Tensor4 want =
          oracle::groupnorm(host(x), download_f32(gamma), download_f32(beta), int(k.groups), silu);
      check([&](CommandSequence& seq) { ops::groupnorm_forward(seq, x, gamma, beta, y, stats, p); }, y, want.v, what);
    }
}

TEST_F(PortableOpsTest, LinearAndSiluMatchOracle) {
  // The time embedding MLP and a ResBlock's projection of it: [2, 32] -> [2, 128] -> [2, 64].
  for (auto [in, out] : {std::pair<int64_t, int64_t>{32, 128}, {128, 128}, {128, 64}}) {
    Tensor x = random_tensor({2, in}, 7, -1.0f, 1.0f, "x");
    Tensor w = parameter({out, in}, 8, -0.3f, 0.3f, "w");
    Tensor b = parameter({out}, 9, -0.3f, 0.3f, "b");
    Tensor y = arena().allocate({2, out}, DType::F32, "y");
    const std::vector<float> want =
        oracle::linear(download_f32(x), 2, int(in), download_f32(w), download_f32(b), int(out));
    check([&](CommandSequence& seq) { ops::linear_forward(seq, x, w, &b, y); }, y, want,
          "linear " + std::to_string(in) + "->" + std::to_string(out));
  }
  // SiLU over the range where exp over- and underflows and sigmoid saturates.
  Tensor x = random_tensor({4, 1024}, 10, -100.0f, 100.0f, "x");
  std::vector<float> xv = download_f32(x);
  for (size_t i = 0; i < 512; ++i) xv[i] = xv[i] / 20.0f;  // and many values near 0
  upload_f32(x, xv);
  Tensor y = arena().allocate(x.shape(), DType::F32, "y");
  check([&](CommandSequence& seq) { ops::silu_forward(seq, x, y); }, y, oracle::silu(xv), "silu");
}

TEST_F(PortableOpsTest, AttentionMatchesOracle) {
  // The bundled model's attention: 64 channels, 4 heads, at 8x8 (32x32 images) and 16x16 (64x64).
  for (int64_t size : {8, 16}) {
    Tensor qkv = random_tensor({2, 192, size, size}, 11, -2.0f, 2.0f, "qkv");
    auto shapes = ops::attention_scratch_shapes(qkv.shape(), 4);
    Tensor probs = arena().allocate(shapes.probs, DType::F32, "probs");
    Tensor o = arena().allocate({2, 64, size, size}, DType::F32, "o");
    const oracle::Tensor4 want = oracle::attention(host(qkv), 4);
    check([&](CommandSequence& seq) { ops::attention_forward(seq, qkv, probs, o, 4); }, o, want.v,
          "attention " + std::to_string(size) + "x" + std::to_string(size));
  }
}

TEST_F(PortableOpsTest, ElementwiseOpsMatchOracle) {
  Tensor a = random_tensor({2, 32, 8, 8}, 12, -3.0f, 3.0f, "a");
  Tensor b = random_tensor({2, 32, 8, 8}, 13, -3.0f, 3.0f, "b");
  Tensor sum = arena().allocate(a.shape(), DType::F32, "sum");
  check([&](CommandSequence& seq) { ops::add(seq, a, b, sum); }, sum, oracle::add(host(a), host(b)).v, "add");

  Tensor v = random_tensor({2, 32}, 14, -1.0f, 1.0f, "v");
  oracle::Tensor4 biased = host(a);
  oracle::channel_bias_add(biased, download_f32(v));
  Tensor h = arena().allocate(a.shape(), DType::F32, "h");
  check(
      [&](CommandSequence& seq) {
        seq.copy(a, h);
        ops::channel_bias_add(seq, h, v);
      },
      h, biased.v, "channel_bias_add");

  Tensor up = arena().allocate({2, 32, 16, 16}, DType::F32, "up");
  check([&](CommandSequence& seq) { ops::upsample_nearest2x_forward(seq, a, up); }, up,
        oracle::upsample_nearest2x(host(a)).v, "upsample");
  Tensor cat = arena().allocate({2, 64, 8, 8}, DType::F32, "cat");
  check([&](CommandSequence& seq) { ops::concat_channels(seq, a, b, cat); }, cat,
        oracle::concat_channels(host(a), host(b)).v, "concat");
}

TEST_F(PortableOpsTest, EmbeddingsMatchOracle) {
  // The sampler's timesteps (f32), among them every one of a 25-step run and the extremes.
  std::vector<float> t{0, 1, 40, 999, 960, 480, 520, 123, 777, 998};
  Tensor ts = arena().allocate({int64_t(t.size())}, DType::F32, "t");
  upload_f32(ts, t);
  ops::TimestepEmbedding embedding(arena(), 32);
  Tensor e = arena().allocate({int64_t(t.size()), 32}, DType::F32, "emb");
  check([&](CommandSequence& seq) { embedding.record(seq, ts, e); }, e, oracle::timestep_embedding(t, 32),
        "timestep_embedding");

  // Class embedding: a row per label (the null label num_classes included), read through F.
  Tensor table = parameter({10, 128}, 15, -1.0f, 1.0f, "table");
  Tensor labels = arena().allocate({3}, DType::U32, "labels");
  upload_u32(labels, std::vector<uint32_t>{2, 9, 0});
  const std::vector<float> tv = download_f32(table);
  std::vector<float> want;
  for (uint32_t l : {2u, 9u, 0u})
    for (int i = 0; i < 128; ++i) want.push_back(portable::flush(tv[l * 128 + i]));
  Tensor out = arena().allocate({3, 128}, DType::F32, "out");
  check([&](CommandSequence& seq) { ops::embedding_forward(seq, table, labels, out); }, out, want, "embedding_forward");
}

TEST_F(PortableOpsTest, SamplerStepMatchesOracle) {
  const Shape shape{2, 3, 8, 8};
  Tensor x = random_tensor(shape, 16, -3.0f, 3.0f, "x");
  Tensor z = random_tensor(shape, 17, -3.0f, 3.0f, "z");
  Tensor x0 = random_tensor(shape, 18, -1.0f, 1.0f, "x0");
  Tensor out = random_tensor({4, 3, 8, 8}, 19, -2.0f, 2.0f, "model_out");
  const std::vector<float> xv = download_f32(x), zv = download_f32(z), x0v = download_f32(x0), ov = download_f32(out);
  // Coefficients of a DPM-Solver++ step with history (every term non-zero).
  ops::SamplerStepCoefficients c{0.8, 0.6, 0.7, 0.25, -0.05, 0.3, 0.1, true};
  for (bool v : {false, true})
    for (bool clip : {false, true})
      for (bool guided : {false, true}) {
        const ops::SamplerStepFlags flags{v, clip, guided};
        const std::span<const float> model_out(ov.data(), guided ? ov.size() : ov.size() / 2);
        Tensor mo = guided ? out : out.batch_slice(0, 2);
        std::vector<float> want = xv, want_x0 = x0v;
        oracle::sampler_step(want, model_out, zv, want_x0, c, 3.0, flags);
        const std::string what =
            std::string("sampler_step") + (v ? " v" : " eps") + (clip ? " clip" : "") + (guided ? " guided" : "");
        for_each_variant([&](KernelVariant) {
          upload_f32(x, xv);
          upload_f32(x0, x0v);
          CommandSequence seq(ctx());
          ops::sampler_step(seq, x, mo, z, x0, c, 3.0, flags);
          seq.finish();
          seq.run();
          expect_same_bits(download_f32(x), want, what + " x");
          expect_same_bits(download_f32(x0), want_x0, what + " x0");
        });
      }
}

}  // namespace
}  // namespace tessera::testing
