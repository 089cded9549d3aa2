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
