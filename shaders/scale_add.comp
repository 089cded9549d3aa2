#version 450
// out = alpha * a + beta * b, elementwise over tensors of equal shape [N, ...]. Each tensor
// may be a batch-strided view (a channel slice of a concat buffer): element r of sample n is at
// n * stride + r. The residual adds of the U-Net and gradient accumulation (out aliases b,
// beta = 1) use it.
// Indexing: one invocation per element, 1-D dispatch spread over x/y (flat_global_index).
// DENSE = 1 (all three tensors dense): the flat index is the element's address, and the
// per-element integer division, which lavapipe runs lane by lane, is skipped.
#include "common.glsl"
#include "portable_math.glsl"

layout(constant_id = 3) const uint DENSE = 0;

layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer Out { float result[]; };

layout(push_constant) uniform Push {
  uint total;       // N * per_sample
  uint per_sample;  // elements of one sample
  uint stride_a, stride_b, stride_out;
  float alpha;
  float beta;
} pc;

float combine(float a, float b) {
#if PORTABLE
  return pm_add(pm_mul(pc.alpha, pm_flush(a)), pm_mul(pc.beta, pm_flush(b)));
#else
  return pc.alpha * a + pc.beta * b;
#endif
}

void main() {
  uint i = flat_global_index();
  if (i >= pc.total) return;
  if (DENSE != 0) {
    result[i] = combine(a[i], b[i]);
    return;
  }
  uint n = i / pc.per_sample;
  uint r = i - n * pc.per_sample;
  result[n * pc.stride_out + r] = combine(a[n * pc.stride_a + r], b[n * pc.stride_b + r]);
}
