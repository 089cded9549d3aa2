#version 450
// SiLU backward: dx = dy * (s + x * s * (1 - s)), s = sigmoid(x) (see activation.glsl); added to dx when accumulating
// (activations with two consumers sum their gradients).
// Indexing as in activation_silu_fwd.comp: element p of sample n at n * batch_stride + p,
// one invocation per element, samples along gl_WorkGroupID.z. x, dy read as texels.
#include "common.glsl"
#include "activation.glsl"

layout(binding = 0) uniform samplerBuffer x;
layout(binding = 1) uniform samplerBuffer dy;
layout(std430, binding = 2) buffer Dx { float dx[]; };

layout(push_constant) uniform Push {
  uint per_sample;
  uint x_batch_stride;
  uint dy_batch_stride;
  uint dx_batch_stride;
  uint accumulate;
} pc;

void main() {
  uint p = flat_global_index();
  if (p >= pc.per_sample) return;
  uint n = gl_WorkGroupID.z;
  float grad = texelFetch(dy, int(n * pc.dy_batch_stride + p)).x * silu_derivative(texelFetch(x, int(n * pc.x_batch_stride + p)).x);
  uint i = n * pc.dx_batch_stride + p;
  dx[i] = pc.accumulate != 0u ? dx[i] + grad : grad;
}
