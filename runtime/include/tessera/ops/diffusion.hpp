// Diffusion-specific elementwise kernels: noising a training batch and a DDIM update.
#pragma once
#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"
#include "tessera/unet_config.hpp"

namespace tessera::ops {

// xt = a_n x0 + b_n eps; target = eps (eps prediction) or a_n eps - b_n x0 (v prediction).
// x0, eps, xt, target: dense f32 [N, ...] of one shape; coefs: f32 [N, 2] holding (a_n, b_n).
void diffusion_noise(CommandSequence& seq, const Tensor& x0, const Tensor& eps, const Tensor& coefs, const Tensor& xt,
                     const Tensor& target, Prediction prediction);

struct DdimCoefficients {
  float a_t, b_t;    // sqrt(alpha_bar_t), sqrt(1 - alpha_bar_t)
  float a_prev;      // sqrt(alpha_bar_prev) (1 for the final step)
  float dir_coef;    // sqrt(1 - alpha_bar_prev - sigma^2)
  float sigma;       // eta * sqrt((1 - ab_prev)/(1 - ab_t)) * sqrt(1 - ab_t/ab_prev)
};
// Coefficients of the step t -> prev (prev < 0 means "to x_0") for a given eta in [0, 1].
DdimCoefficients ddim_coefficients(double alpha_bar_t, double alpha_bar_prev, double eta);

// x <- DDIM update of x (in place) given the model output; z: standard normal noise (read only
// when sigma > 0, but always bound), all dense f32 of one shape.
void ddim_step(CommandSequence& seq, const Tensor& x, const Tensor& model_out, const Tensor& z,
               const DdimCoefficients& c, Prediction prediction, bool clip_x0);

}  // namespace tessera::ops
