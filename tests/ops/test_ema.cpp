#include "ops/reference/ema.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/adamw.hpp"
#include "tessera/ops/ema.hpp"

namespace tessera::testing {
namespace {

class EmaTest : public VulkanTest {};

TEST_F(EmaTest, ReplayWithChangingDecayMatchesReference) {
  const std::vector<Shape> shapes{{1}, {5, 3}, {64, 32, 3, 3}, {1001}};
  std::vector<Tensor> params, emas;
  std::vector<std::vector<double>> p_ref, e_ref;
  for (size_t i = 0; i < shapes.size(); ++i) {
    params.push_back(random_tensor(shapes[i], 1 + i, -1, 1, "param" + std::to_string(i)));
    emas.push_back(random_tensor(shapes[i], 11 + i, -1, 1, "ema" + std::to_string(i)));
    p_ref.push_back(to_double(download_f32(params.back())));
    e_ref.push_back(to_double(download_f32(emas.back())));
  }
  Tensor block = poisoned_tensor({ops::kOptimizerBlockSize}, "optimizer_block");
  CommandSequence seq(ctx());
  ops::ema_update(seq, params, emas, block);
  for (double decay : {0.5, 0.9, 0.999, 0.9999}) {
    ops::OptimizerHyperParams h;
    h.ema_decay = decay;
    upload_f32(block, ops::pack_optimizer_block(h));
    seq.run();
    for (size_t i = 0; i < shapes.size(); ++i) reference::ema_update(e_ref[i], p_ref[i], decay);
  }
  for (size_t i = 0; i < shapes.size(); ++i)
    expect_close(download_f32(emas[i]), e_ref[i], 1e-5, "ema " + shape_string(shapes[i]) + " after 4 updates");
}

TEST_F(EmaTest, MismatchedListsAreClearErrors) {
  std::vector<Tensor> params{random_tensor({3, 4}, 1, -1, 1, "param")};
  std::vector<Tensor> emas{random_tensor({4, 3}, 2, -1, 1, "ema")};
  Tensor block = poisoned_tensor({ops::kOptimizerBlockSize}, "optimizer_block");
  CommandSequence seq(ctx());
  try {
    ops::ema_update(seq, params, emas, block);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("param [3,4] f32"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ema [4,3] f32"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ops::ema_update(seq, params, std::span<const Tensor>{}, block), ShapeError);
}

}  // namespace
}  // namespace tessera::testing
