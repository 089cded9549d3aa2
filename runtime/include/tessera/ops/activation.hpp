// Standalone SiLU (the U-Net's time-embedding MLP and block activations that are not fused into
// a GroupNorm). f32 tensors of rank >= 1 whose dim 0 is the batch; any tensor may be a
// batch-strided view (Tensor::channel_slice).
#pragma once
#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera::ops {

// y = x * sigmoid(x). y must not overlap x unless it is the same tensor (in place is fine:
// every element is read and written by the same invocation).
void silu_forward(CommandSequence& seq, const Tensor& x, const Tensor& y);

// dx = dy * (s + x * s * (1 - s)), s = sigmoid(x); overwritten, or added to dx when `accumulate`.
// Recomputes s from x (nothing saved by the forward pass). dx must not overlap x or dy.
void silu_backward(CommandSequence& seq, const Tensor& x, const Tensor& dy, const Tensor& dx, bool accumulate);

}  // namespace tessera::ops
