#include <algorithm>
#include <cmath>

#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/noise_schedule.hpp"
#include "tessera/ops/diffusion.hpp"

namespace tessera::testing {
namespace {

// Values from numpy: np.cumprod(1 - np.linspace(1e-4, 0.02, 1000)) and the cosine formula
// of Nichol & Dhariwal evaluated independently (see the comments in noise_schedule.hpp).
TEST(NoiseScheduleTest, MatchesIndependentComputation) {
  NoiseSchedule lin(Schedule::Linear, 1000);
  EXPECT_NEAR(lin.alpha_bar(0), 0.9999, 1e-15);
  EXPECT_NEAR(lin.alpha_bar(499) / 0.07858724288177824, 1.0, 1e-12);
  EXPECT_NEAR(lin.alpha_bar(999) / 4.035829765375676e-05, 1.0, 1e-10);
  NoiseSchedule cos(Schedule::Cosine, 1000);
  EXPECT_NEAR(cos.alpha_bar(0), 0.999958715775178, 1e-14);
  EXPECT_NEAR(cos.alpha_bar(499) / 0.4938435904406382, 1.0, 1e-12);
  EXPECT_NEAR(cos.alpha_bar(999) / 2.4287669070348567e-09, 1.0, 1e-8);
  EXPECT_EQ(cos.beta(999), 0.999);  // clipped
  EXPECT_THROW(NoiseSchedule(Schedule::Linear, 1), Error);
}

TEST(NoiseScheduleTest, MinSnrWeights) {
  NoiseSchedule s(Schedule::Linear, 1000);
  EXPECT_EQ(s.min_snr_weight(10, 0.0, Prediction::Eps), 1.0);
  EXPECT_NEAR(s.min_snr_weight(10, 5.0, Prediction::Eps), 5.0 / s.snr(10), 1e-15);  // high SNR: clipped
  EXPECT_NEAR(s.min_snr_weight(900, 5.0, Prediction::Eps), 1.0, 1e-15);            // low SNR: 1
  EXPECT_NEAR(s.min_snr_weight(900, 5.0, Prediction::V), s.snr(900) / (s.snr(900) + 1), 1e-15);
}

class DiffusionOpsTest : public VulkanTest {};

TEST_F(DiffusionOpsTest, NoiseAndTargetsMatchReference) {
  for (Prediction pred : {Prediction::Eps, Prediction::V}) {
    Shape shape{3, 3, 5, 7};
    Tensor x0 = random_tensor(shape, 1), eps = random_tensor(shape, 2, -2, 2);
    Tensor coefs = random_tensor({3, 2}, 3, 0.05f, 1.0f, "coefs");
    Tensor xt = poisoned_tensor(shape, "xt"), target = poisoned_tensor(shape, "target");
    CommandSequence seq(ctx());
    ops::diffusion_noise(seq, x0, eps, coefs, xt, target, pred);
    seq.run();
    auto hx = download_f32(x0), he = download_f32(eps), hc = download_f32(coefs);
    std::vector<double> rx(hx.size()), rt(hx.size());
    size_t per = hx.size() / 3;
    for (size_t i = 0; i < hx.size(); ++i) {
      double a = hc[2 * (i / per)], b = hc[2 * (i / per) + 1];
      rx[i] = a * hx[i] + b * he[i];
      rt[i] = pred == Prediction::V ? a * he[i] - b * hx[i] : he[i];
    }
    expect_close(download_f32(xt), rx, 1e-5, "x_t");
    expect_close(download_f32(target), rt, 1e-5, "target");
  }
}

TEST_F(DiffusionOpsTest, DdimStepMatchesReference) {
  NoiseSchedule s(Schedule::Linear, 1000);
  for (Prediction pred : {Prediction::Eps, Prediction::V})
    for (double eta : {0.0, 1.0})
      for (bool clip : {false, true}) {
        Shape shape{2, 3, 4, 5};
        Tensor x = random_tensor(shape, 4, -3, 3, "x"), out = random_tensor(shape, 5, -2, 2, "out");
        Tensor z = random_tensor(shape, 6, -2, 2, "z");
        auto hx = download_f32(x), ho = download_f32(out), hz = download_f32(z);
        auto c = ops::ddim_coefficients(s.alpha_bar(600), s.alpha_bar(400), eta);
        CommandSequence seq(ctx());
        ops::ddim_step(seq, x, out, z, c, pred, clip);
        seq.run();
        double at = std::sqrt(s.alpha_bar(600)), bt = std::sqrt(1 - s.alpha_bar(600));
        double ap = std::sqrt(s.alpha_bar(400));
        double sigma = eta * std::sqrt((1 - s.alpha_bar(400)) / (1 - s.alpha_bar(600)) *
                                       (1 - s.alpha_bar(600) / s.alpha_bar(400)));
        double dir = std::sqrt(1 - s.alpha_bar(400) - sigma * sigma);
        std::vector<double> ref(hx.size());
        for (size_t i = 0; i < ref.size(); ++i) {
          double x0, eps;
          if (pred == Prediction::V) {
            x0 = at * hx[i] - bt * ho[i];
            eps = bt * hx[i] + at * ho[i];
          } else {
            eps = ho[i];
            x0 = (hx[i] - bt * eps) / at;
          }
          if (clip) {
            x0 = std::clamp(x0, -1.0, 1.0);
            eps = (hx[i] - at * x0) / bt;
          }
          ref[i] = ap * x0 + dir * eps + sigma * hz[i];
        }
        // Division by a_t = 0.37 and b_t = 0.93 amplify rounding of the inputs by a few times.
        expect_close(download_f32(x), ref, 2e-5, "ddim step");
      }
}

TEST_F(DiffusionOpsTest, BadShapesAreClearErrors) {
  Tensor x = random_tensor({2, 3, 4, 4}, 1), coefs = random_tensor({3, 2}, 2);
  CommandSequence seq(ctx());
  EXPECT_THROW(ops::diffusion_noise(seq, x, x, coefs, x, x, Prediction::Eps), ShapeError);
  EXPECT_THROW(ops::ddim_coefficients(0.5, 0.4, 0.0), Error);  // prev must be less noisy
}

}  // namespace
}  // namespace tessera::testing
