// GroupNorm over NCHW f32 tensors, optionally followed by SiLU in the same kernel (the U-Net's
// "norm + act" at the start of every residual block).
//
//   z = gamma[c] * (x - mean_g) / sqrt(var_g + eps) + beta[c],   y = fused_silu ? silu(z) : z
//
// mean_g and var_g (biased) are taken over the C/G channels of group g of one sample. Statistics
// are exact two-pass fp32 sums combined in a fixed order: results are deterministic run to run.
// x, y, dy and dx may be batch-strided channel views (Tensor::channel_slice), e.g. a concat of
// [h, skip] feeding a decoder block; their offsets must satisfy ops::require_bindable.
#pragma once
#include <cstdint>

#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera::ops {

struct GroupNormParams {
  int64_t groups = 32;
  float eps = 1e-5f;
  bool fused_silu = false;
};

// Shape of the per-(sample, group) statistics the forward pass saves for the backward: [N, G, 2]
// holding (mean, 1/sqrt(var + eps)).
Shape groupnorm_stats_shape(const Shape& x_shape, const GroupNormParams& params);
// Shape of the scratch tensor the backward pass needs: [N, C, 2] (per-channel partial sums).
Shape groupnorm_backward_scratch_shape(const Shape& x_shape);

// x, y [N,C,H,W]; gamma, beta [C]; stats [N,G,2] (dense, written). One dispatch.
// Throws ShapeError if G does not divide C or any shape is off. y must not overlap x.
void groupnorm_forward(CommandSequence& seq, const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& y,
                       const Tensor& stats, const GroupNormParams& params);

// Gradients of groupnorm_forward with the same x, gamma, beta, params and the stats it saved.
// dx is overwritten, or added to when `accumulate`; dgamma and dbeta [C] are overwritten (summed
// over the batch in order, no atomics). With fused SiLU the pre-activation is recomputed from x
// and stats (nothing else is saved). `scratch` [N,C,2] dense f32 is provided by the caller
// (groupnorm_backward_scratch_shape) and only used within this call's two dispatches.
// dx must not overlap x or dy.
void groupnorm_backward(CommandSequence& seq, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                        const Tensor& stats, const Tensor& dy, const Tensor& dx, const Tensor& dgamma,
                        const Tensor& dbeta, const Tensor& scratch, const GroupNormParams& params, bool accumulate);

}  // namespace tessera::ops
