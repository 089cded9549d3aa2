#version 450
// SiLU forward: y = x * sigmoid(x), elementwise over tensors whose dim 0 is the batch.
// Indexing: element p of sample n is at n * batch_stride + p (views of a concat allowed);
// one invocation per element, samples along gl_WorkGroupID.z, elements of a sample spread over
// x/y groups (flat_global_index). x is read through a texel buffer (vectorized on lavapipe).
#include "common.glsl"
#include "portable_math.glsl"

layout(binding = 0) uniform samplerBuffer x;
layout(std430, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
  uint per_sample;
  uint x_batch_stride;
  uint y_batch_stride;
} pc;

void main() {
  uint p = flat_global_index();
  if (p >= pc.per_sample) return;
  uint n = gl_WorkGroupID.z;
#if PORTABLE
  y[n * pc.y_batch_stride + p] = pm_silu(pm_flush(texelFetch(x, int(n * pc.x_batch_stride + p)).x));
#else
  y[n * pc.y_batch_stride + p] = silu(texelFetch(x, int(n * pc.x_batch_stride + p)).x);
#endif
}
