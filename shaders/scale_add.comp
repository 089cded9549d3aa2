#version 450
// out[i] = alpha * a[i] + beta * b[i], over n elements of dense f32 tensors.
// The residual adds of the U-Net and gradient accumulation (out aliases b, beta = 1) use it.
// Indexing: one invocation per element, 1-D dispatch spread over x/y (flat_global_index).
#include "common.glsl"

layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer Out { float result[]; };

layout(push_constant) uniform Push {
  uint n;
  float alpha;
  float beta;
} pc;

void main() {
  uint i = flat_global_index();
  if (i >= pc.n) return;
  result[i] = pc.alpha * a[i] + pc.beta * b[i];
}
