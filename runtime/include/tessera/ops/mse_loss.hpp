// Mean squared error with optional per-sample weights (min-SNR weighting), the DDPM loss.
#pragma once
#include <cstdint>

#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera::ops {

// Number of f32 elements the scratch tensor of mse_loss_forward must hold for pred.numel().
int64_t mse_loss_scratch_size(int64_t numel);

// loss[0] = (1 / numel) * sum_i w[n(i)] * (pred[i] - target[i])^2,  n(i) = sample of element i.
//   pred, target  f32 [N, ...] dense, same shape;  weights  nullptr or f32 [N];  loss  f32 [1].
//   scratch       f32, >= mse_loss_scratch_size(pred.numel()) elements, passed by the caller
//                 (it only lives inside this recorded pair of dispatches; reuse it freely after).
// Two dispatches: per-block partial sums, then one workgroup sums the partials in a fixed
// order, so the loss is bit-identical between runs (no atomics).
void mse_loss_forward(CommandSequence& seq, const Tensor& pred, const Tensor& target, const Tensor* weights,
                      const Tensor& loss, const Tensor& scratch);

// dpred = 2 * w[n(i)] * (pred - target) / numel * dloss_scale, written (accumulate = false) or
// added into dpred (accumulate = true). dloss_scale is the upstream d(total)/d(loss), a record-
// time constant (1 for a plain loss; a loss-scaling factor otherwise).
void mse_loss_backward(CommandSequence& seq, const Tensor& pred, const Tensor& target, const Tensor* weights,
                       const Tensor& dpred, float dloss_scale = 1.0f, bool accumulate = false);

}  // namespace tessera::ops
