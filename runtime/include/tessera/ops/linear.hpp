// Fully connected layer in PyTorch nn.Linear layout, f32, dense tensors:
//
//   x [N, in], weight [out, in], bias [out] (optional), y [N, out]
//   forward:   y  = x * weight^T + bias
//   backward:  dx = dy * weight            (overwrite, or add into dx with accumulate_dx)
//              dweight = dy^T * x          (overwrite)
//              dbias[j] = sum_n dy[n, j]   (overwrite; rows summed in order, deterministic)
//
// Forward is one matmul (bias fused); backward is two matmuls plus one column-sum kernel.
// No scratch memory is needed.
#pragma once
#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera::ops {

// bias may be nullptr (no bias). y must not overlap x, weight or bias.
void linear_forward(CommandSequence& seq, const Tensor& x, const Tensor& weight, const Tensor* bias, const Tensor& y);

// dx and dbias may be nullptr (not wanted). dweight is always written.
void linear_backward(CommandSequence& seq, const Tensor& x, const Tensor& weight, const Tensor& dy, const Tensor* dx,
                     const Tensor& dweight, const Tensor* dbias, bool accumulate_dx);

}  // namespace tessera::ops
