#version 450
// v[n, c] = sum over y, x of h[n, c, y, x] (or v += that, when ACCUMULATE): the gradient of
// channel_bias_add with respect to v. h may be a batch-strided view.
// Indexing: one invocation per (n, c); each sums its H*W values in order, so the result is
// deterministic (no atomics).
#include "common.glsl"

layout(constant_id = 3) const uint ACCUMULATE = 0;

layout(std430, binding = 0) readonly buffer H { float h[]; };
layout(std430, binding = 1) buffer V { float v[]; };

layout(push_constant) uniform Push {
  uint rows;      // N * C
  uint channels;  // C
  uint hw;        // H * W
  uint stride_h;  // batch stride of h in elements
} pc;

void main() {
  uint i = flat_global_index();
  if (i >= pc.rows) return;
  uint n = i / pc.channels;
  uint c = i - n * pc.channels;
  uint base = n * pc.stride_h + c * pc.hw;
  float s = 0.0;
  for (uint k = 0; k < pc.hw; ++k) s += h[base + k];
  v[i] = ACCUMULATE != 0 ? v[i] + s : s;
}
