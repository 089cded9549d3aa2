#include <cmath>

#include "ops/reference/attention.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/attention.hpp"

namespace tessera::testing {
namespace {

using reference::AttentionShape;

// Scores are sums of d <= 64 products, softmax rows sum up to 256 terms and P*V sums up to 256
// products: each stage adds ~1e-6 relative error in f32, well inside 1e-4.
constexpr double kTolerance = 1e-4;

struct Case {
  int64_t samples, channels, height, width, heads;
  float range;  // qkv values uniform in [-range, range)
  AttentionShape shape() const { return {samples, channels, height * width, heads}; }
  std::string describe() const {
    return "N=" + std::to_string(samples) + " C=" + std::to_string(channels) + " " + std::to_string(height) + "x" +
           std::to_string(width) + " heads=" + std::to_string(heads) + " range=" + std::to_string(range);
  }
};

const std::vector<Case> kCases = {
    {2, 20, 3, 3, 4, 1.0f},    // T = 9, d = 5, four heads
    {1, 5, 3, 3, 1, 1.0f},     // one head
    {2, 15, 3, 3, 3, 1.0f},    // three heads, d = 5
    {3, 10, 1, 7, 2, 1.0f},    // non-square map
    {1, 20, 3, 3, 4, 10.0f},   // scores up to ~200: exp would overflow without the max subtraction
    {2, 64, 8, 8, 2, 1.0f},    // T = 64, d = 32
    {1, 128, 16, 16, 2, 1.0f}  // T = 256, d = 64
};

class AttentionTest : public VulkanTest {};

TEST_F(AttentionTest, ForwardAndBackwardMatchReference) {
  for_each_variant([&](KernelVariant) {
    uint64_t seed = 300;
    for (const Case& c : kCases)
      for (bool accumulate : {false, true}) {
        SCOPED_TRACE(c.describe());
        Shape qkv_shape{c.samples, 3 * c.channels, c.height, c.width};
        Shape o_shape{c.samples, c.channels, c.height, c.width};
        auto scratch = ops::attention_scratch_shapes(qkv_shape, c.heads);
        Tensor qkv = random_tensor(qkv_shape, ++seed, -c.range, c.range, "qkv");
        Tensor d_o = random_tensor(o_shape, ++seed, -1, 1, "d_o");
        Tensor o = poisoned_tensor(o_shape, "o");
        Tensor probs = poisoned_tensor(scratch.probs, "probs");
        Tensor grad_scores = poisoned_tensor(scratch.grad_scores, "grad_scores");
        Tensor dqkv = accumulate ? random_tensor(qkv_shape, ++seed, -1, 1, "dqkv") : poisoned_tensor(qkv_shape, "dqkv");
        auto dqkv_before = download_f32(dqkv);
        CommandSequence seq(ctx());
        ops::attention_forward(seq, qkv, probs, o, c.heads);
        ops::attention_backward(seq, qkv, probs, d_o, grad_scores, dqkv, c.heads, accumulate);
        seq.run();

        auto hqkv = to_double(download_f32(qkv));
        auto ref = reference::attention_forward(hqkv, c.shape());
        auto ref_grad = reference::attention_backward(hqkv, to_double(download_f32(d_o)), c.shape());
        if (accumulate)
          for (size_t i = 0; i < ref_grad.size(); ++i) ref_grad[i] += dqkv_before[i];
        std::string what = c.describe() + (accumulate ? " accumulate" : "");
        if (!accumulate) {  // the forward outputs do not depend on the flag
          expect_close(download_f32(o), ref.o, kTolerance, "o " + what);
          expect_close(download_f32(probs), ref.probs, kTolerance, "probs " + what);
        }
        expect_close(download_f32(dqkv), ref_grad, kTolerance, "dqkv " + what);
      }
  });
}

// Reference backward vs central differences of the reference forward, loss = sum(o * g).
TEST(AttentionReferenceTest, BackwardMatchesFiniteDifferences) {
  for (AttentionShape s : {AttentionShape{1, 4, 3, 2}, AttentionShape{2, 3, 4, 1}, AttentionShape{1, 6, 5, 3}}) {
    auto qkv = to_double(random_floats(static_cast<size_t>(s.samples * 3 * s.channels * s.tokens), 7, -1.5f, 1.5f));
    auto g = to_double(random_floats(static_cast<size_t>(s.samples * s.channels * s.tokens), 8));
    auto loss = [&](const std::vector<double>& x) {
      auto o = reference::attention_forward(x, s).o;
      double l = 0;
      for (size_t i = 0; i < o.size(); ++i) l += o[i] * g[i];
      return l;
    };
    auto numeric = finite_difference(loss, qkv);
    auto analytic = reference::attention_backward(qkv, g, s);
    ASSERT_EQ(numeric.size(), analytic.size());
    for (size_t i = 0; i < numeric.size(); ++i) EXPECT_NEAR(analytic[i], numeric[i], 1e-7) << "dqkv element " << i;
  }
}

TEST_F(AttentionTest, ErrorsNameTheTensors) {
  CommandSequence seq(ctx());
  Tensor qkv = random_tensor({1, 12, 2, 2}, 1, -1, 1, "qkv");
  Tensor probs = poisoned_tensor({1, 3, 4, 4}, "probs");
  Tensor o = poisoned_tensor({1, 4, 2, 2}, "o");
  try {
    ops::attention_forward(seq, qkv, probs, o, 3);  // 12 channels are not 3 * heads * d for 3 heads
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("qkv [1,12,2,2] f32"), std::string::npos) << what;
    EXPECT_NE(what.find("not divisible by 3 * heads"), std::string::npos) << what;
  }
  EXPECT_THROW(ops::attention_scratch_shapes({1, 12, 2, 2}, 3), ShapeError);
  EXPECT_EQ(ops::attention_scratch_shapes({1, 12, 2, 2}, 2).probs, (Shape{1, 2, 4, 4}));
  Tensor wrong_probs = poisoned_tensor({1, 2, 4, 5}, "probs");
  EXPECT_THROW(ops::attention_forward(seq, qkv, wrong_probs, o, 2), ShapeError);
  Tensor ints = arena().allocate({1, 12, 2, 2}, DType::I32, "qkv_ints");
  EXPECT_THROW(ops::attention_forward(seq, ints, poisoned_tensor({1, 2, 4, 4}, "p"), o, 2), ShapeError);
}

}  // namespace
}  // namespace tessera::testing

namespace tessera::testing {
namespace {

// A 64x64 feature map (4096 tokens) with 4 heads: 256 MiB of scores, more than lavapipe's
// 128 MiB storage-buffer range, so the forward runs in head chunks. Checked on a sample of
// query tokens per head against a double-precision computation of those rows.
TEST_F(AttentionTest, ForwardOverTheBindingRangeRunsInHeadChunks) {
  const int64_t heads = 4, channels = 8, side = 64, T = side * side, D = channels / heads;
  ASSERT_GT(uint64_t(heads * T * T * 4), ctx().info().max_storage_buffer_range) << "the case must need chunks";
  Arena big(ctx(), uint64_t(heads * T * T) * 4 + 4 * uint64_t(T * channels) * 4 + 8 * Arena::kAlignment, "attn-big");
  Tensor qkv = big.allocate({1, 3 * channels, side, side}, DType::F32, "qkv");
  Tensor probs = big.allocate({1, heads, T, T}, DType::F32, "probs");
  Tensor o = big.allocate({1, channels, side, side}, DType::F32, "o");
  std::vector<float> hq = random_floats(size_t(3 * channels * T), 31, -2, 2);
  upload_f32(qkv, hq);
  CommandSequence seq(ctx());
  ops::attention_forward(seq, qkv, probs, o, heads);
  seq.run();
  auto got = download_f32(o);
  const double scale = 1.0 / std::sqrt(double(D));
  std::vector<double> ref, sampled;
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t t = 5; t < T; t += 397) {
      std::vector<double> p(T);
      double mx = -1e300, sum = 0;
      for (int64_t s = 0; s < T; ++s) {
        double dot = 0;
        for (int64_t c = 0; c < D; ++c) dot += double(hq[(h * D + c) * T + t]) * hq[(channels + h * D + c) * T + s];
        p[s] = dot * scale;
        mx = std::max(mx, p[s]);
      }
      for (double& v : p) sum += (v = std::exp(v - mx));
      for (int64_t c = 0; c < D; ++c) {
        double acc = 0;
        for (int64_t s = 0; s < T; ++s) acc += p[s] / sum * hq[(2 * channels + h * D + c) * T + s];
        ref.push_back(acc);
        sampled.push_back(got[(h * D + c) * T + t]);
      }
    }
  std::vector<float> sampled_f(sampled.begin(), sampled.end());
  // Sums of 4096 products: fp32 accumulation error grows like sqrt(T) ulps.
  expect_close(sampled_f, ref, 1e-4, "chunked attention rows");
}

}  // namespace
}  // namespace tessera::testing
