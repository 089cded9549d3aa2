// Exponential moving average of model parameters (the weights DDPM samples with).
#pragma once
#include <span>

#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera::ops {

// ema = decay * ema + (1 - decay) * param for each (param, ema) pair of equal shape (dense f32),
// one dispatch per pair. decay and 1 - decay are read from the optimizer hyper-parameter block
// (kEmaDecay, kEmaOneMinusDecay in adamw.hpp), so a warm-up schedule of the decay needs only a
// host write of the block. Record it after adamw_step (it reads the updated parameters).
void ema_update(CommandSequence& seq, std::span<const Tensor> params, std::span<const Tensor> emas,
                const Tensor& hyper);

}  // namespace tessera::ops
