// AdamW with exactly torch.optim.AdamW's update (amsgrad=False, maximize=False), driven by a
// small device hyper-parameter block so one recorded command buffer is replayed every step
// and the host only rewrites that block (learning-rate schedules, step count).
#pragma once
#include <array>
#include <cstdint>
#include <span>

#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera::ops {

// Index of each value in the f32 [kOptimizerBlockSize] hyper-parameter tensor. The bias
// corrections and derived factors are formed on the host in double (as PyTorch does in
// Python floats) and rounded once to f32. The shaders (adamw.comp, ema.comp) use the same indices.
enum OptimizerBlock : int64_t {
  kLr = 0,
  kBeta1 = 1,
  kBeta2 = 2,
  kEps = 3,
  kWeightDecay = 4,
  kStepSize = 5,             // lr / (1 - beta1^t)
  kBiasCorrection2Sqrt = 6,  // sqrt(1 - beta2^t)
  kDecayFactor = 7,          // 1 - lr * weight_decay
  kOneMinusBeta1 = 8,
  kOneMinusBeta2 = 9,
  kEmaDecay = 10,
  kEmaOneMinusDecay = 11,
  kStep = 12,                // t, informational (bias corrections are already folded in)
  kOptimizerBlockSize = 16,
};

struct OptimizerHyperParams {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
  int64_t step = 1;          // t of the update being applied (1 for the first step)
  double ema_decay = 0.9999;
};

// The block's values for one step; upload with upload_f32(block_tensor, pack_optimizer_block(h)).
std::array<float, kOptimizerBlockSize> pack_optimizer_block(const OptimizerHyperParams& h);

struct AdamWState {
  Tensor param;       // f32, updated in place
  Tensor grad;        // f32, same shape, read only
  Tensor exp_avg;     // f32, same shape, zero before step 1
  Tensor exp_avg_sq;  // f32, same shape, zero before step 1
};

// One AdamW update of every tensor in `states` (one dispatch each; a single AdamWState over a
// contiguous parameter arena region covers a whole model in one dispatch).
// hyper: f32 [kOptimizerBlockSize]. clip: nullptr, or grad_norm's f32 [2] result, in which case
// the gradient is multiplied by clip[kClipCoefficientIndex] as it is read - the same f32
// product clip_gradients would store, so the result equals clipping in place first, without
// the extra read-write pass over the gradients (which are left unscaled).
void adamw_step(CommandSequence& seq, std::span<const AdamWState> states, const Tensor& hyper,
                const Tensor* clip = nullptr);

}  // namespace tessera::ops
