#include <chrono>
#include <cmath>

#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/training_step.hpp"

namespace tessera::testing {
namespace {

class TrainingStepTest : public VulkanTest {
 protected:
  static UNetConfig tiny_config() {
    return UNetConfig::from_json(
        R"({"base_channels": 16, "channel_mult": [1, 2], "num_res_blocks": 1, "attention_resolutions": [8],
            "num_heads": 2, "norm_groups": 4, "num_classes": 2, "padding": "circular", "train_resolution": 16})");
  }
  // Two "materials": diagonal stripes and blobs, with a per-sample phase so every batch differs.
  static std::vector<float> batch_images(int n, int res, int64_t step, std::vector<uint32_t>& labels) {
    std::vector<float> img(size_t(n) * 3 * res * res);
    labels.assign(n, 0);
    for (int i = 0; i < n; ++i) {
      uint32_t cls = uint32_t((i + step) % 2);
      labels[i] = cls;
      double phase = 0.37 * double(step * n + i);
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < res; ++y)
          for (int x = 0; x < res; ++x) {
            double k = 2 * M_PI / res;
            double v = cls == 0 ? std::sin(k * 2 * (x + y) + phase)
                                : std::cos(k * x + phase) * std::cos(k * y - phase);
            img[((size_t(i) * 3 + c) * res + y) * res + x] = float(0.8 * v * (c == 1 ? 0.5 : 1.0));
          }
    }
    return img;
  }
};

TEST_F(TrainingStepTest, LossFallsWellBelowItsStart) {
  TrainHyperParams hp;
  hp.lr = 2e-3;
  hp.warmup_steps = 10;
  hp.seed = 7;
  TrainingStep trainer(ctx(), tiny_config(), 8, 16, hp);
  std::vector<uint32_t> labels;
  double first = 0, last = 0;
  const int steps = 120, window = 20;
  auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < steps; ++s) {
    auto images = batch_images(8, 16, s, labels);
    StepResult r = trainer.run(images, labels);
    ASSERT_TRUE(std::isfinite(r.loss)) << "step " << r.step;
    if (s < window) first += r.loss / window;
    if (s >= steps - window) last += r.loss / window;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("  mean loss of the first %d steps %.4f, of the last %d %.4f (%.1f ms/step)\n", window, first, window,
              last, 1000 * seconds / steps);
  EXPECT_LT(last, 0.5 * first);
}

TEST_F(TrainingStepTest, ResumeIsBitIdentical) {
  TrainHyperParams hp;
  hp.seed = 3;
  hp.warmup_steps = 2;
  std::vector<uint32_t> labels;
  TrainingStep straight(ctx(), tiny_config(), 4, 16, hp);
  TrainingStep::State at3;
  std::vector<float> losses;
  for (int s = 0; s < 6; ++s) {
    if (s == 3) at3 = straight.save_state();
    auto images = batch_images(4, 16, s, labels);
    losses.push_back(straight.run(images, labels).loss);
  }
  TrainingStep resumed(ctx(), tiny_config(), 4, 16, hp);
  resumed.load_state(at3);
  EXPECT_EQ(resumed.step(), 3);
  for (int s = 3; s < 6; ++s) {
    auto images = batch_images(4, 16, s, labels);
    EXPECT_EQ(resumed.run(images, labels).loss, losses[s]);
  }
  auto a = straight.save_state(), b = resumed.save_state();
  EXPECT_EQ(a.weights, b.weights);
  EXPECT_EQ(a.ema, b.ema);
  EXPECT_EQ(a.adam_m, b.adam_m);
  EXPECT_EQ(a.adam_v, b.adam_v);
}

TEST_F(TrainingStepTest, BadBatchesAreClearErrors) {
  TrainHyperParams hp;
  TrainingStep trainer(ctx(), tiny_config(), 2, 16, hp);
  std::vector<uint32_t> labels{0, 1};
  EXPECT_THROW(trainer.run(std::vector<float>(10), labels), ShapeError);
  std::vector<uint32_t> bad{0, 7};
  EXPECT_THROW(trainer.run(std::vector<float>(2 * 3 * 16 * 16), bad), Error);
  TrainingStep::State wrong;
  EXPECT_THROW(trainer.load_state(wrong), Error);
}

TEST_F(TrainingStepTest, ScheduleOfLearningRateAndEma) {
  TrainHyperParams hp;
  hp.lr = 1e-3;
  hp.warmup_steps = 100;
  hp.ema_decay = 0.999;
  TrainingStep trainer(ctx(), tiny_config(), 1, 16, hp);
  EXPECT_DOUBLE_EQ(trainer.learning_rate(50), 5e-4);
  EXPECT_DOUBLE_EQ(trainer.learning_rate(500), 1e-3);
  EXPECT_DOUBLE_EQ(trainer.ema_decay(1), 2.0 / 11.0);
  EXPECT_DOUBLE_EQ(trainer.ema_decay(1000000), 0.999);
}

}  // namespace
}  // namespace tessera::testing
