// Elementwise arithmetic on f32 tensors. Feature-map arguments may be batch-strided channel
// views (Tensor::channel_slice) so results can land directly in a concat buffer.
#pragma once
#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera::ops {

// out = alpha * a + beta * b over tensors of equal shape. `out` may be the same tensor as
// `a` or `b` (accumulation).
void scale_add(CommandSequence& seq, const Tensor& a, const Tensor& b, const Tensor& out, float alpha = 1.0f,
               float beta = 1.0f);
// out = a + b
inline void add(CommandSequence& seq, const Tensor& a, const Tensor& b, const Tensor& out) {
  scale_add(seq, a, b, out, 1.0f, 1.0f);
}

// h[n, c, :, :] += v[n, c] in place. h [N, C, H, W], v [N, C] dense.
void channel_bias_add(CommandSequence& seq, const Tensor& h, const Tensor& v);
// dv[n, c] = sum over H, W of dh[n, c, :, :] (overwrite, or add into dv with accumulate): the
// backward of channel_bias_add with respect to v. Fixed summation order.
void channel_sum(CommandSequence& seq, const Tensor& dh, const Tensor& dv, bool accumulate);

}  // namespace tessera::ops
