// Diffusion-specific elementwise kernels: noising a training batch, the sampler update and
// the known-pixel blend of img2img/inpainting, and an exact Gaussian-data denoiser for tests.
#pragma once
#include "tessera/command_sequence.hpp"
#include "tessera/sampler_schedule.hpp"
#include "tessera/tensor.hpp"
#include "tessera/unet_config.hpp"

namespace tessera::ops {

// xt = a_n x0 + b_n eps; target = eps (eps prediction) or a_n eps - b_n x0 (v prediction).
// x0, eps, xt, target: dense f32 [N, ...] of one shape; coefs: f32 [N, 2] holding (a_n, b_n).
void diffusion_noise(CommandSequence& seq, const Tensor& x0, const Tensor& eps, const Tensor& coefs, const Tensor& xt,
                     const Tensor& target, Prediction prediction);

struct SamplerStepFlags {
  Prediction prediction = Prediction::Eps;
  bool clip_x0 = true;
  bool guided = false;  // model_out is [2N, ...]: conditional half, then the null-label half
};

// One sampler step in place (see shaders/sampler_step.comp): x <- x_prev given the model output
// at t. z: standard normal noise (read only when sigma > 0, always bound). x0: on entry the previous
// step's x0 (read when c.uses_history), on exit this step's x0 estimate (history and preview).
// x, z, x0: dense f32 of one shape; model_out: the same, or twice the batch when guided.
void sampler_step(CommandSequence& seq, const Tensor& x, const Tensor& model_out, const Tensor& z, const Tensor& x0,
                  const StepCoefficients& c, double guidance, const SamplerStepFlags& flags);

// x <- a known + b zk where keep = 1 (blended where 0 < keep < 1, untouched where keep = 0);
// keep == nullptr: everywhere. known [C, H, W] is shared by the batch; x, zk [N, C, H, W]; keep [H, W].
void sampler_blend_known(CommandSequence& seq, const Tensor& x, const Tensor& known, const Tensor& zk,
                         const Tensor* keep, double a, double b);

// The exact eps (or v) predictor for data ~ N(mu, s2 I), given x_t [N, ...], timesteps [N] f32 and
// the schedule's alpha_bar table [T] f32 (shaders/gaussian_eps_oracle.comp); a test model.
void gaussian_eps_oracle(CommandSequence& seq, const Tensor& x, const Tensor& timesteps, const Tensor& alpha_bar,
                         const Tensor& result, double mu, double s2, Prediction prediction);

}  // namespace tessera::ops
