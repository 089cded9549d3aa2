#version 450
// Gradient clipping in place: g[i] *= result[1], the clip coefficient written by
// grad_norm_finalize (read on the device: no host round trip).
// Indexing: one invocation per element, 1-D dispatch spread over x/y.
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Result { float result[]; };
layout(std430, binding = 1) buffer Grad { float grad[]; };

layout(push_constant) uniform Push { uint n; } pc;

void main() {
  uint i = flat_global_index();
  if (i >= pc.n) return;
  grad[i] *= result[1];
}
