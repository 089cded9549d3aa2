#include <algorithm>
#include <cmath>

#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/noise_schedule.hpp"
#include "tessera/ops/diffusion.hpp"
#include "tessera/sampler_schedule.hpp"

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
    ops::diffusion_noise(seq, x0, eps, coefs, xt, target, pred == Prediction::V);
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

// The op's own contract (shaders/sampler_step.comp) with arbitrary coefficients; the coefficients
// of each sampler are checked against the PyTorch reference in test_sampler_reference.cpp.
TEST_F(DiffusionOpsTest, SamplerStepMatchesReference) {
  for (Prediction pred : {Prediction::Eps, Prediction::V})
    for (bool clip : {false, true})
      for (bool guided : {false, true})
        for (bool history : {false, true}) {
          Shape shape{2, 3, 4, 5}, out_shape{guided ? 4 : 2, 3, 4, 5};
          Tensor x = random_tensor(shape, 4, -3, 3, "x"), out = random_tensor(out_shape, 5, -2, 2, "out");
          Tensor z = random_tensor(shape, 6, -2, 2, "z"), x0 = random_tensor(shape, 7, -1, 1, "x0");
          auto hx = download_f32(x), ho = download_f32(out), hz = download_f32(z), hl = download_f32(x0);
          ops::SamplerStepCoefficients c{0.6, 0.8};
          c.c_x = 0.3, c.c_x0 = 0.7, c.c_x0_last = history ? -0.2 : 0.0, c.c_eps = 0.4, c.sigma = 0.25;
          c.uses_history = history;
          const double w = 2.5;
          CommandSequence seq(ctx());
          ops::sampler_step(seq, x, out, z, x0, c, w, {pred == Prediction::V, clip, guided});
          seq.run();
          std::vector<double> ref(hx.size()), ref_x0(hx.size());
          for (size_t i = 0; i < ref.size(); ++i) {
            double o = guided ? ho[i + hx.size()] + w * (ho[i] - ho[i + hx.size()]) : ho[i];
            double e, d;
            if (pred == Prediction::V) {
              d = c.a_t * hx[i] - c.b_t * o;
              e = c.b_t * hx[i] + c.a_t * o;
            } else {
              e = o;
              d = (hx[i] - c.b_t * e) / c.a_t;
            }
            if (clip) {
              d = std::clamp(d, -1.0, 1.0);
              e = (hx[i] - c.a_t * d) / c.b_t;
            }
            ref[i] = c.c_x * hx[i] + c.c_x0 * d + c.c_x0_last * hl[i] + c.c_eps * e + c.sigma * hz[i];
            ref_x0[i] = d;
          }
          // A handful of roundings, amplified up to ~4x by the divisions and the guidance weight.
          expect_close(download_f32(x), ref, 2e-5, "sampler step");
          expect_close(download_f32(x0), ref_x0, 2e-5, "x0 estimate");
        }
}

TEST_F(DiffusionOpsTest, BlendKnownKeepsExactlyWhereKeepIsOne) {
  Shape shape{2, 3, 4, 4};
  Tensor x = random_tensor(shape, 1, -3, 3, "x"), zk = random_tensor(shape, 2, -2, 2, "zk");
  Tensor known = random_tensor({3, 4, 4}, 3, -1, 1, "known"), keep = random_tensor({4, 4}, 4, 0, 1, "keep");
  std::vector<float> hk = download_f32(keep);
  hk[0] = 1.0f, hk[1] = 0.0f;
  upload_f32(keep, hk);
  auto hx = download_f32(x), hz = download_f32(zk), hn = download_f32(known);
  CommandSequence seq(ctx());
  ops::sampler_blend_known(seq, x, known, zk, &keep, 1.0, 0.0);  // the final step: the known image itself
  seq.run();
  auto got = download_f32(x);
  for (size_t i = 0; i < got.size(); ++i) {
    float k = hk[i % 16], n = hn[i % 48];
    if (k == 1.0f) ASSERT_EQ(got[i], n);
    else if (k == 0.0f) ASSERT_EQ(got[i], hx[i]);
    else ASSERT_NEAR(got[i], hx[i] * (1 - k) + n * k, 1e-5);
  }
  CommandSequence img2img(ctx());
  ops::sampler_blend_known(img2img, x, known, zk, nullptr, 0.6, 0.8);
  img2img.run();
  std::vector<double> ref(got.size());
  for (size_t i = 0; i < ref.size(); ++i) ref[i] = 0.6 * hn[i % 48] + 0.8 * hz[i];
  expect_close(download_f32(x), ref, 1e-6, "img2img start");
}

TEST_F(DiffusionOpsTest, BadShapesAreClearErrors) {
  Tensor x = random_tensor({2, 3, 4, 4}, 1), coefs = random_tensor({3, 2}, 2);
  CommandSequence seq(ctx());
  EXPECT_THROW(ops::diffusion_noise(seq, x, x, coefs, x, x, false), ShapeError);
  NoiseSchedule schedule(Schedule::Linear, 1000);
  EXPECT_THROW(step_coefficients(schedule, SamplerKind::Ddim, {400, 600}), Error);  // prev must be less noisy
  Tensor guided_out = random_tensor({2, 3, 4, 4}, 3);
  ops::SamplerStepCoefficients c{0.6, 0.8};
  EXPECT_THROW(ops::sampler_step(seq, x, guided_out, x, x, c, 2.0, {false, true, true}), ShapeError);
}

}  // namespace
}  // namespace tessera::testing
