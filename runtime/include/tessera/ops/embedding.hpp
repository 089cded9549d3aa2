// Embedding lookup (class labels -> learned vectors) for class-conditional U-Nets.
#pragma once
#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera::ops {

// out[n, :] = table[labels[n], :].
//   table  f32 [rows, dim], labels u32 [N] (a device tensor, written by the host per step),
//   out    f32 [N, dim].
// Labels are not checked on the device: the host validates what it uploads. A label >= rows
// produces a zero row (the shader never reads out of bounds).
void embedding_forward(CommandSequence& seq, const Tensor& table, const Tensor& labels, const Tensor& out);

// Parameter gradient, overwrite: dtable[r, :] = sum of dout[n, :] over the n with labels[n] == r,
// summed in order n = 0..N-1 without atomics (bit-identical between runs). Labels >= rows are
// ignored. dtable f32 [rows, dim], dout f32 [N, dim].
void embedding_backward(CommandSequence& seq, const Tensor& labels, const Tensor& dout, const Tensor& dtable);

}  // namespace tessera::ops
