// Elementwise arithmetic on dense f32 tensors of equal shape.
#pragma once
#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera::ops {

// out = alpha * a + beta * b. `out` may be the same tensor as `a` or `b` (accumulation).
void scale_add(CommandSequence& seq, const Tensor& a, const Tensor& b, const Tensor& out, float alpha = 1.0f,
               float beta = 1.0f);
// out = a + b
inline void add(CommandSequence& seq, const Tensor& a, const Tensor& b, const Tensor& out) {
  scale_add(seq, a, b, out, 1.0f, 1.0f);
}

}  // namespace tessera::ops
