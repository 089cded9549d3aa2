// attention_forward_fused (inference): both kernel variants against the double-precision
// reference, run to run determinism, and agreement with the unfused (probabilities) path.
#include <cstring>

#include "ops/reference/attention.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/attention.hpp"

namespace tessera::testing {
namespace {

using reference::AttentionShape;

// Measure: expect_close's elementwise relative error |got - ref| / max(|ref|, 1% of max |ref|).
// Scores are sums of d <= 64 products, each key block's exp2 terms are rescaled once per
// block, and o sums T <= 4096 weighted values: ~1e-6 relative in f32, well inside 1e-4.
constexpr double kTolerance = 1e-4;
// Fused vs unfused: both are f32 computations of the same values in different orders (key
// blocks and exp2 here; matmul tiles and exp there), so they differ by rounding only. Checked
// normwise (max |fused - unfused| / max |unfused|): elementwise, outputs far below the
// tensor's scale (sums with cancellation) and large scores (softmax amplifies a score's
// absolute rounding error) put both paths ~1e-4 apart in relative terms while each stays
// within 1e-4 of the double reference.
constexpr double kUnfusedTolerance = 1e-5;

struct Case {
  int64_t samples, channels, height, width, heads;
  float range;  // qkv values uniform in [-range, range)
  int64_t tokens() const { return height * width; }
  AttentionShape shape() const { return {samples, channels, tokens(), heads}; }
  std::string describe() const {
    return "N=" + std::to_string(samples) + " C=" + std::to_string(channels) + " " + std::to_string(height) + "x" +
           std::to_string(width) + " heads=" + std::to_string(heads) + " d=" + std::to_string(channels / heads) +
           " range=" + std::to_string(range);
  }
};

// The kernels' key block is 16 (TexelFetch: four vec4 texels when T % 4 == 0, scalar fetches
// otherwise); the SharedTiles tile is 64 keys (32 at d = 64).
const std::vector<Case> kCases = {
    {1, 16, 1, 1, 2, 1.0f},     // T = 1, d = 8: one key, 15 masked in the block
    {2, 32, 3, 3, 2, 1.0f},     // T = 9 (scalar fetches), d = 16
    {2, 20, 3, 3, 4, 1.0f},     // d = 5: channels padded to the broadcast group of 8
    {1, 64, 4, 5, 2, 1.0f},     // T = 20: vec4 fetches with a partial tail block, d = 32
    {3, 16, 1, 7, 2, 1.0f},     // non-square map, T = 7, d = 8
    {1, 32, 3, 3, 2, 10.0f},    // scores up to ~800: overflow without the running maximum
    {2, 64, 8, 8, 4, 1.0f},     // T = 64, d = 16 (the U-Net's shape at a small level)
    {1, 128, 10, 10, 2, 1.0f},  // T = 100 (not a multiple of 16 nor of the SharedTiles tile), d = 64
    {1, 64, 16, 13, 1, 2.0f},   // T = 208, d = 64, several SharedTiles tiles with a tail
    {1, 16, 64, 64, 1, 2.0f},   // T = 4096, d = 16: the sampler's 64x64 attention level, one head
};

class AttentionFusedTest : public VulkanTest {};

TEST_F(AttentionFusedTest, MatchesReferenceIsDeterministicAndAgreesWithUnfused) {
  for_each_variant([&](KernelVariant) {
    uint64_t seed = 700;
    for (const Case& c : kCases) {
      SCOPED_TRACE(c.describe());
      Shape qkv_shape{c.samples, 3 * c.channels, c.height, c.width};
      Shape o_shape{c.samples, c.channels, c.height, c.width};
      Tensor qkv = random_tensor(qkv_shape, ++seed, -c.range, c.range, "qkv");
      Tensor fused = poisoned_tensor(o_shape, "o_fused");
      Tensor fused_again = poisoned_tensor(o_shape, "o_fused_again");
      Tensor unfused = poisoned_tensor(o_shape, "o_unfused");
      Tensor probs = poisoned_tensor(ops::attention_scratch_shapes(qkv_shape, c.heads).probs, "probs");
      {
        CommandSequence seq(ctx());
        ops::attention_forward_fused(seq, qkv, fused, c.heads);
        ops::attention_forward(seq, qkv, probs, unfused, c.heads);
        seq.run();
      }
      {  // a second, separate submission of the same kernel
        CommandSequence seq(ctx());
        ops::attention_forward_fused(seq, qkv, fused_again, c.heads);
        seq.run();
      }
      auto got = download_f32(fused);
      auto again = download_f32(fused_again);
      ASSERT_EQ(got.size(), again.size());
      EXPECT_EQ(0, std::memcmp(got.data(), again.data(), got.size() * sizeof(float))) << "two runs differ";

      auto ref = reference::attention_forward(to_double(download_f32(qkv)), c.shape());
      expect_close(got, ref.o, kTolerance, "fused o vs reference, " + c.describe());
      expect_close_normwise(got, to_double(download_f32(unfused)), kUnfusedTolerance,
                            "fused vs unfused o, " + c.describe());
    }
  });
}

TEST_F(AttentionFusedTest, ErrorsNameTheTensors) {
  CommandSequence seq(ctx());
  Tensor qkv = random_tensor({1, 12, 2, 2}, 1, -1, 1, "qkv");
  Tensor o = poisoned_tensor({1, 4, 2, 2}, "o");
  try {
    ops::attention_forward_fused(seq, qkv, o, 3);  // 12 channels are not 3 * heads * d for 3 heads
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("attention_forward_fused"), std::string::npos) << what;
    EXPECT_NE(what.find("qkv [1,12,2,2] f32"), std::string::npos) << what;
  }
  Tensor wrong_o = poisoned_tensor({1, 4, 2, 3}, "o_wrong");
  EXPECT_THROW(ops::attention_forward_fused(seq, qkv, wrong_o, 2), ShapeError);
  Tensor ints = arena().allocate({1, 12, 2, 2}, DType::I32, "qkv_ints");
  EXPECT_THROW(ops::attention_forward_fused(seq, ints, o, 2), ShapeError);
}

}  // namespace
}  // namespace tessera::testing
