#include <cstring>

#include "ops/reference/mse_loss.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/mse_loss.hpp"

namespace tessera::testing {
namespace {

class MseLossTest : public VulkanTest {};

const std::vector<Shape> kShapes{{1, 1}, {3, 5, 7, 9}, {2, 3, 33, 17}, {5, 4, 64, 64}};

TEST_F(MseLossTest, ForwardMatchesReference) {
  for (const Shape& shape : kShapes)
    for (bool weighted : {false, true}) {
      Tensor pred = random_tensor(shape, 1, -2, 2, "pred");
      Tensor target = random_tensor(shape, 2, -2, 2, "target");
      Tensor weights = random_tensor({shape[0]}, 3, 0.1f, 5.0f, "weights");
      Tensor loss = poisoned_tensor({1}, "loss");
      Tensor scratch = poisoned_tensor({ops::mse_loss_scratch_size(pred.numel())}, "scratch");
      CommandSequence seq(ctx());
      ops::mse_loss_forward(seq, pred, target, weighted ? &weights : nullptr, loss, scratch);
      seq.run();
      double ref = reference::mse_loss(to_double(download_f32(pred)), to_double(download_f32(target)),
                                       weighted ? to_double(download_f32(weights)) : std::vector<double>{},
                                       pred.numel() / shape[0]);
      // f32 sums of positive terms: per-lane chains of <= 16, a tree of 8, a final chain over
      // blocks: relative error well under 1e-5.
      expect_close(download_f32(loss), std::vector<double>{ref}, 1e-5,
                   "mse_loss " + shape_string(shape) + (weighted ? " weighted" : ""));
    }
}

TEST_F(MseLossTest, BackwardMatchesReferenceOverwriteAndAccumulate) {
  for (const Shape& shape : kShapes)
    for (bool weighted : {false, true})
      for (bool accumulate : {false, true}) {
        Tensor pred = random_tensor(shape, 4, -2, 2, "pred");
        Tensor target = random_tensor(shape, 5, -2, 2, "target");
        Tensor weights = random_tensor({shape[0]}, 6, 0.1f, 5.0f, "weights");
        Tensor dpred = accumulate ? random_tensor(shape, 7, -1e-3f, 1e-3f, "dpred") : poisoned_tensor(shape, "dpred");
        auto before = accumulate ? to_double(download_f32(dpred)) : std::vector<double>(size_t(pred.numel()), 0.0);
        const double scale = 0.75;
        CommandSequence seq(ctx());
        ops::mse_loss_backward(seq, pred, target, weighted ? &weights : nullptr, dpred, float(scale), accumulate);
        seq.run();
        auto ref = reference::mse_loss_backward(to_double(download_f32(pred)), to_double(download_f32(target)),
                                                weighted ? to_double(download_f32(weights)) : std::vector<double>{},
                                                pred.numel() / shape[0], scale);
        for (size_t i = 0; i < ref.size(); ++i) ref[i] += before[i];
        // Three or four f32 roundings per element.
        expect_close(download_f32(dpred), ref, 1e-5,
                     "mse_loss_backward " + shape_string(shape) + (weighted ? " weighted" : "") +
                         (accumulate ? " accumulate" : ""));
      }
}

TEST_F(MseLossTest, BackwardMatchesFiniteDifferences) {
  const Shape shape{3, 2, 2, 1};
  const int64_t per_sample = 4;
  auto pred0 = to_double(random_floats(12, 8, -1, 1));
  auto target = to_double(random_floats(12, 9, -1, 1));
  std::vector<double> weights{0.5, 2.0, 1.25};
  const double scale = 1.5;
  auto loss = [&](const std::vector<double>& p) { return scale * reference::mse_loss(p, target, weights, per_sample); };
  auto fd = finite_difference(loss, pred0);
  auto analytic = reference::mse_loss_backward(pred0, target, weights, per_sample, scale);
  for (size_t i = 0; i < fd.size(); ++i) EXPECT_NEAR(analytic[i], fd[i], 1e-8) << "element " << i;

  auto upload = [&](const std::vector<double>& v, const Shape& s, const char* name) {
    Tensor t = arena().allocate(s, DType::F32, name);
    upload_f32(t, std::vector<float>(v.begin(), v.end()));
    return t;
  };
  Tensor tp = upload(pred0, shape, "pred"), tt = upload(target, shape, "target"), tw = upload(weights, {3}, "weights");
  Tensor dpred = poisoned_tensor(shape, "dpred");
  CommandSequence seq(ctx());
  ops::mse_loss_backward(seq, tp, tt, &tw, dpred, float(scale));
  seq.run();
  auto ref = reference::mse_loss_backward(to_double(download_f32(tp)), to_double(download_f32(tt)), weights,
                                          per_sample, scale);
  expect_close(download_f32(dpred), ref, 1e-6, "mse_loss_backward vs reference (fd case)");
}

TEST_F(MseLossTest, ForwardIsBitwiseDeterministic) {
  Shape shape{8, 3, 64, 64};
  Tensor pred = random_tensor(shape, 10, -2, 2, "pred");
  Tensor target = random_tensor(shape, 11, -2, 2, "target");
  Tensor loss = poisoned_tensor({1}, "loss");
  Tensor scratch = poisoned_tensor({ops::mse_loss_scratch_size(pred.numel())}, "scratch");
  CommandSequence seq(ctx());
  ops::mse_loss_forward(seq, pred, target, nullptr, loss, scratch);
  seq.run();
  float first = download_f32(loss)[0];
  seq.run();
  float second = download_f32(loss)[0];
  EXPECT_EQ(0, std::memcmp(&first, &second, sizeof(float)));
}

TEST_F(MseLossTest, WrongShapesAreClearErrors) {
  Tensor pred = random_tensor({2, 3, 4, 4}, 1, -1, 1, "pred");
  Tensor target = random_tensor({2, 3, 4, 5}, 2, -1, 1, "target");
  Tensor loss = poisoned_tensor({1}, "loss");
  Tensor scratch = poisoned_tensor({1}, "scratch");
  CommandSequence seq(ctx());
  try {
    ops::mse_loss_forward(seq, pred, target, nullptr, loss, scratch);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("pred [2,3,4,4] f32"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("target [2,3,4,5] f32"), std::string::npos) << e.what();
  }
  Tensor bad_weights = random_tensor({3}, 3, 0, 1, "weights");
  EXPECT_THROW(ops::mse_loss_backward(seq, pred, pred, &bad_weights, poisoned_tensor({2, 3, 4, 4})), ShapeError);
  Tensor big = random_tensor({2, 3, 64, 64}, 4, -1, 1, "big");
  EXPECT_THROW(ops::mse_loss_forward(seq, big, big, nullptr, loss, scratch), ShapeError);  // scratch too small
}

}  // namespace
}  // namespace tessera::testing
