// Sinusoidal timestep embedding (DDPM / ADM convention).
#pragma once
#include <cstdint>

#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera {
class Arena;
}

namespace tessera::ops {

// For timesteps t [N] and an embedding width dim, with half = dim / 2 and
// freq_i = max_period^(-i / half), i < half:
//   out[n, i] = cos(t_n * freq_i),  out[n, half + i] = sin(t_n * freq_i),  out[n, dim-1] = 0 if dim is odd.
// Cos first, as guided-diffusion's timestep_embedding (and the improved-DDPM / ADM checkpoints
// built on it) lays it out; the original DDPM code put sin first. We follow ADM because its
// layout is what PyTorch reference U-Nets (tools/reference) and published weights use.
//
// No backward: timesteps are data, not learned, so nothing upstream needs a gradient (the
// gradient flows into the time-MLP's weights, which sit after this op).
//
// Accuracy: the argument t * freq reaches ~1000 for DDPM's t <= 999; a plain f32 product
// would already be off by up to t * freq * 2^-24 ~ 6e-5 (and PyTorch's own f32 reference by
// ~1e-4, its freq being rounded too). Here freq comes from the host as an exact double-float
// (hi + lo), t * freq is formed exactly, reduced by pi/2 in extended precision, and sin/cos
// are evaluated by polynomials in the shader: absolute error < 3e-7 against a double
// reference for |t * freq| < 1e5 (measured 7.6e-8 on lavapipe; the test holds it to 3e-7).
// Only IEEE f32 add/mul are used, so every conformant device gives the same values.
class TimestepEmbedding {
 public:
  // Allocates the frequency table (2 * max(half, 1) f32) from `arena` and uploads it once.
  TimestepEmbedding(Arena& arena, int64_t dim, double max_period = 10000.0);

  int64_t dim() const { return dim_; }
  const Tensor& frequencies() const { return frequencies_; }

  // timesteps: f32 or u32 [N] on the device (u32 exact below 2^24); out: f32 [N, dim].
  void record(CommandSequence& seq, const Tensor& timesteps, const Tensor& out) const;

 private:
  int64_t dim_;
  Tensor frequencies_;  // [half][hi, lo]
};

}  // namespace tessera::ops
