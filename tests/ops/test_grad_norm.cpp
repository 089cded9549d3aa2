#include <cstring>
#include <limits>

#include "ops/reference/grad_norm.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/grad_norm.hpp"

namespace tessera::testing {
namespace {

class GradNormTest : public VulkanTest {
 protected:
  // Many tensors of odd sizes, like a U-Net's parameters: biases, norms, kernels, and one
  // spanning several 4096-element blocks.
  std::vector<Tensor> make_grads(uint64_t seed) {
    std::vector<Shape> shapes{{1}, {3}, {7, 5}, {64}, {33, 17, 3, 3}, {4095}, {4096}, {4097}, {129, 64, 3, 3}};
    for (int i = 0; i < 40; ++i) shapes.push_back({int64_t(1 + (i * 997) % 613), 3});
    std::vector<Tensor> grads;
    for (size_t i = 0; i < shapes.size(); ++i)
      grads.push_back(random_tensor(shapes[i], seed + i, -0.5f, 0.5f, "grad" + std::to_string(i)));
    return grads;
  }
  static std::vector<std::vector<double>> host(const std::vector<Tensor>& grads) {
    std::vector<std::vector<double>> h;
    for (const Tensor& g : grads) h.push_back(to_double(download_f32(g)));
    return h;
  }
};

TEST_F(GradNormTest, NormAndClipCoefficientMatchReference) {
  auto grads = make_grads(100);
  double norm = reference::global_norm(host(grads));
  // One max_norm below the norm (clipping active), one above (coefficient 1), none (+inf).
  for (double max_norm : {norm / 3.0, norm * 2.0, double(std::numeric_limits<float>::infinity())}) {
    Tensor result = poisoned_tensor({ops::kGradNormResultSize}, "grad_norm");
    Tensor scratch = poisoned_tensor({ops::grad_norm_scratch_size(grads)}, "scratch");
    CommandSequence seq(ctx());
    ops::grad_norm(seq, grads, result, scratch, float(max_norm));
    seq.run();
    // Sum of ~150k squares in f32 through fixed trees: relative error ~1e-6.
    expect_close(download_f32(result), std::vector<double>{norm, reference::clip_coefficient(norm, max_norm)}, 1e-5,
                 "grad_norm, max_norm " + std::to_string(max_norm), 0.0);
  }
}

TEST_F(GradNormTest, ClipScalesEveryGradientOnTheDevice) {
  auto grads = make_grads(200);
  auto before = host(grads);
  double norm = reference::global_norm(before);
  double max_norm = norm / 4.0;
  double coefficient = reference::clip_coefficient(norm, max_norm);
  Tensor result = poisoned_tensor({ops::kGradNormResultSize}, "grad_norm");
  Tensor scratch = poisoned_tensor({ops::grad_norm_scratch_size(grads)}, "scratch");
  Tensor after_norm = poisoned_tensor({ops::kGradNormResultSize}, "norm_after_clip");
  CommandSequence seq(ctx());
  ops::grad_norm(seq, grads, result, scratch, float(max_norm));
  ops::clip_gradients(seq, grads, result);
  ops::grad_norm(seq, grads, after_norm, scratch);  // scratch reused: the tracker orders it
  seq.run();
  for (size_t t = 0; t < grads.size(); ++t) {
    std::vector<double> ref(before[t]);
    for (double& x : ref) x *= coefficient;
    expect_close(download_f32(grads[t]), ref, 1e-5, "clipped " + grads[t].describe());
  }
  EXPECT_NEAR(download_f32(after_norm)[0], max_norm, max_norm * 1e-5) << "norm after clipping";
}

TEST_F(GradNormTest, SingleLargeTensorAndBitwiseReplay) {
  std::vector<Tensor> grads{random_tensor({300001}, 7, -1, 1, "flat_grads")};
  Tensor result = poisoned_tensor({ops::kGradNormResultSize}, "grad_norm");
  Tensor scratch = poisoned_tensor({ops::grad_norm_scratch_size(grads)}, "scratch");
  CommandSequence seq(ctx());
  ops::grad_norm(seq, grads, result, scratch, 1.0f);
  seq.run();
  auto first = download_f32(result);
  expect_close(first, std::vector<double>{reference::global_norm(host(grads)),
                                          reference::clip_coefficient(reference::global_norm(host(grads)), 1.0)},
               1e-5, "grad_norm of one 300001-element tensor", 0.0);
  seq.run();
  auto second = download_f32(result);
  EXPECT_EQ(0, std::memcmp(first.data(), second.data(), 2 * sizeof(float))) << "replay is not bit-identical";
}

TEST_F(GradNormTest, BadArgumentsAreClearErrors) {
  auto grads = make_grads(300);
  Tensor result = poisoned_tensor({ops::kGradNormResultSize}, "grad_norm");
  Tensor small = poisoned_tensor({3}, "scratch");
  CommandSequence seq(ctx());
  try {
    ops::grad_norm(seq, grads, result, small);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("scratch [3] f32"), std::string::npos) << e.what();
  }
  Tensor scratch = poisoned_tensor({ops::grad_norm_scratch_size(grads)}, "scratch");
  EXPECT_THROW(ops::grad_norm(seq, grads, poisoned_tensor({1}, "norm"), scratch), ShapeError);
  EXPECT_THROW(ops::grad_norm(seq, std::span<const Tensor>{}, result, scratch), ShapeError);
  EXPECT_THROW(ops::grad_norm(seq, grads, result, scratch, 0.0f), Error);
}

}  // namespace
}  // namespace tessera::testing
