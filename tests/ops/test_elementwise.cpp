#include <cmath>

#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/elementwise.hpp"

namespace tessera::testing {
namespace {

class ElementwiseTest : public VulkanTest {};

TEST_F(ElementwiseTest, ScaleAddMatchesReference) {
  for (Shape shape : {Shape{1}, Shape{3, 5, 7, 9}, Shape{2, 64, 33, 17}}) {
    Tensor a = random_tensor(shape, 1, -2, 2, "a");
    Tensor b = random_tensor(shape, 2, -2, 2, "b");
    Tensor y = poisoned_tensor(shape, "y");
    CommandSequence seq(ctx());
    ops::scale_add(seq, a, b, y, 0.75f, -1.25f);
    seq.run();
    auto ha = download_f32(a), hb = download_f32(b);
    std::vector<double> ref(ha.size());
    for (size_t i = 0; i < ref.size(); ++i) ref[i] = 0.75 * ha[i] - 1.25 * hb[i];
    // Two or three roundings per element (a fused multiply-add may be used): a few ulp of the inputs.
    expect_close(download_f32(y), ref, 1e-5, "scale_add " + shape_string(shape));
  }
}

TEST_F(ElementwiseTest, AccumulatesInPlaceAndReplays) {
  Shape shape{4, 3, 5, 5};
  Tensor g = random_tensor(shape, 3, -1, 1, "grad");
  Tensor acc = random_tensor(shape, 4, -1, 1, "acc");
  auto hg = download_f32(g), h0 = download_f32(acc);
  CommandSequence seq(ctx());
  ops::add(seq, g, acc, acc);  // acc += g
  seq.run();
  seq.run();  // replay: acc += g again
  std::vector<double> ref(hg.size());
  for (size_t i = 0; i < ref.size(); ++i) ref[i] = double(float(h0[i] + hg[i])) + hg[i];
  expect_close(download_f32(acc), ref, 1e-6, "acc + 2g");
}

TEST_F(ElementwiseTest, ShapeMismatchIsAClearError) {
  Tensor a = random_tensor({2, 3}, 1, -1, 1, "a");
  Tensor b = random_tensor({3, 2}, 2, -1, 1, "b");
  CommandSequence seq(ctx());
  try {
    ops::add(seq, a, b, a);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("a [2,3] f32"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("b [3,2] f32"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tessera::testing

namespace tessera::testing {
namespace {

TEST_F(ElementwiseTest, ScaleAddThroughConcatViews) {
  Tensor cat = poisoned_tensor({3, 7, 4, 4}, "cat");
  Tensor a = random_tensor({3, 3, 4, 4}, 5, -1, 1, "a");
  Tensor b = random_tensor({3, 3, 4, 4}, 6, -1, 1, "b");
  Tensor view = cat.channel_slice(4, 3);
  CommandSequence seq(ctx());
  ops::scale_add(seq, a, b, view, 2.0f, 0.5f);
  seq.run();
  auto ha = download_f32(a), hb = download_f32(b), hc = download_f32(cat);
  for (int n = 0; n < 3; ++n)
    for (int c = 0; c < 7; ++c)
      for (int p = 0; p < 16; ++p) {
        float got = hc[(n * 7 + c) * 16 + p];
        if (c < 4) {
          EXPECT_TRUE(std::isnan(got)) << "channel outside the view was written";
        } else {
          size_t i = (n * 3 + c - 4) * 16 + p;
          EXPECT_NEAR(got, 2.0 * ha[i] + 0.5 * hb[i], 1e-6);
        }
      }
}

TEST_F(ElementwiseTest, ChannelBiasAddAndItsGradient) {
  Shape shape{2, 5, 3, 7};
  Tensor h = random_tensor(shape, 7, -1, 1, "h");
  Tensor v = random_tensor({2, 5}, 8, -1, 1, "v");
  Tensor dv = poisoned_tensor({2, 5}, "dv");
  Tensor dv_acc = random_tensor({2, 5}, 9, -1, 1, "dv_acc");
  auto h0 = download_f32(h), hv = download_f32(v), acc0 = download_f32(dv_acc);
  CommandSequence seq(ctx());
  ops::channel_sum(seq, h, dv, false);
  ops::channel_sum(seq, h, dv_acc, true);
  ops::channel_bias_add(seq, h, v);
  seq.run();
  std::vector<double> ref_h(h0.size()), ref_dv(10), ref_acc(10);
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 5; ++c) {
      double s = 0;
      for (int p = 0; p < 21; ++p) {
        size_t i = (n * 5 + c) * 21 + p;
        ref_h[i] = double(h0[i]) + hv[n * 5 + c];
        s += h0[i];
      }
      ref_dv[n * 5 + c] = s;
      ref_acc[n * 5 + c] = s + acc0[n * 5 + c];
    }
  expect_close(download_f32(h), ref_h, 1e-6, "channel_bias_add");
  // Sums of 21 terms in fp32: a few ulp of the partial sums' scale.
  expect_close(download_f32(dv), ref_dv, 1e-5, "channel_sum");
  expect_close(download_f32(dv_acc), ref_acc, 1e-5, "channel_sum accumulate");
  EXPECT_THROW(ops::channel_bias_add(seq, h, dv_acc.reshape({10})), ShapeError);
}

// A channel view of a concat buffer (batch stride > C*H*W) with planes larger than a workgroup
// (12 x 12: 144 positions; the view starts at channel 2, 1152 bytes in, storage-aligned).
TEST_F(ElementwiseTest, ChannelBiasAddIntoAConcatView) {
  Tensor full = random_tensor({3, 7, 12, 12}, 11, -1, 1, "full");
  Tensor h = full.channel_slice(2, 4);
  Tensor v = random_tensor({3, 4}, 12, -1, 1, "v");
  auto f0 = download_f32(full), hv = download_f32(v);
  CommandSequence seq(ctx());
  ops::channel_bias_add(seq, h, v);
  seq.run();
  std::vector<double> ref(f0.begin(), f0.end());
  for (int n = 0; n < 3; ++n)
    for (int c = 0; c < 4; ++c)
      for (int p = 0; p < 144; ++p) ref[(n * 7 + 2 + c) * 144 + p] += hv[n * 4 + c];
  expect_close(download_f32(full), ref, 1e-6, "channel_bias_add into a view (channels outside it untouched)");
}

}  // namespace
}  // namespace tessera::testing
