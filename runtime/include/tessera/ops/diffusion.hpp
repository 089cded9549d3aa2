// Diffusion-specific elementwise kernels: noising a training batch, the sampler update and
// the known-pixel blend of img2img/inpainting, and an exact Gaussian-data denoiser for tests.
// Like every op they take plain values: the diffusion layer (noise schedules, samplers) works
// the coefficients out and says what the model predicts (v_prediction: v = a eps - b x0, else
// the noise eps), so ops depend on neither the sampler schedule nor the model config.
#pragma once
#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera::ops {

// xt = a_n x0 + b_n eps; target = eps (eps prediction) or a_n eps - b_n x0 (v prediction).
// x0, eps, xt, target: dense f32 [N, ...] of one shape; coefs: f32 [N, 2] holding (a_n, b_n).
void diffusion_noise(CommandSequence& seq, const Tensor& x0, const Tensor& eps, const Tensor& coefs, const Tensor& xt,
                     const Tensor& target, bool v_prediction);

// x_prev = c_x x + c_x0 x0 + c_x0_last x0_last + c_eps eps + sigma z, where x0 and eps come from
// the model output at noise level (a_t, b_t), see shaders/sampler_step.comp. The diffusion
// layer's StepCoefficients (sampler_schedule.hpp) extends this with what the sampler needs.
struct SamplerStepCoefficients {
  double a_t, b_t;
  double c_x = 0, c_x0 = 0, c_x0_last = 0, c_eps = 0, sigma = 0;
  bool uses_history = false;  // c_x0_last != 0: reads the previous step's x0
};

struct SamplerStepFlags {
  bool v_prediction = false;
  bool clip_x0 = true;
  bool guided = false;  // model_out is [2N, ...]: conditional half, then the null-label half
};

// One sampler step in place (see shaders/sampler_step.comp): x <- x_prev given the model output
// at t. z: standard normal noise (read only when sigma > 0, always bound). x0: on entry the previous
// step's x0 (read when c.uses_history), on exit this step's x0 estimate (history and preview).
// x, z, x0: dense f32 of one shape; model_out: the same, or twice the batch when guided.
void sampler_step(CommandSequence& seq, const Tensor& x, const Tensor& model_out, const Tensor& z, const Tensor& x0,
                  const SamplerStepCoefficients& c, double guidance, const SamplerStepFlags& flags);

// x <- a known + b zk where keep = 1 (blended where 0 < keep < 1, untouched where keep = 0);
// keep == nullptr: everywhere. known [C, H, W] is shared by the batch; x, zk [N, C, H, W]; keep [H, W].
void sampler_blend_known(CommandSequence& seq, const Tensor& x, const Tensor& known, const Tensor& zk,
                         const Tensor* keep, double a, double b);

// The exact eps (or v) predictor for data ~ N(mu, s2 I), given x_t [N, ...], timesteps [N] f32 and
// the schedule's alpha_bar table [T] f32 (shaders/gaussian_eps_oracle.comp); a test model.
void gaussian_eps_oracle(CommandSequence& seq, const Tensor& x, const Tensor& timesteps, const Tensor& alpha_bar,
                         const Tensor& result, double mu, double s2, bool v_prediction);

}  // namespace tessera::ops
