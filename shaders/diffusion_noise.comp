#version 450
// The forward diffusion of a training batch, and the regression target:
//   x_t    = a_n * x0 + b_n * eps          (a_n = sqrt(alpha_bar_t), b_n = sqrt(1 - alpha_bar_t))
//   target = eps                           (PREDICT_V = 0)
//          = a_n * eps - b_n * x0          (PREDICT_V = 1, the "v" parameterisation)
// coefs[n] = (a_n, b_n) per sample, written by the host each step.
// Indexing: one invocation per element of x0 [N, C, H, W] (dense), 1-D dispatch.
#include "common.glsl"

layout(constant_id = 3) const uint PREDICT_V = 0;

layout(std430, binding = 0) readonly buffer X0 { float x0[]; };
layout(std430, binding = 1) readonly buffer Eps { float eps[]; };
layout(std430, binding = 2) readonly buffer Coefs { vec2 coefs[]; };
layout(std430, binding = 3) writeonly buffer Xt { float xt[]; };
layout(std430, binding = 4) writeonly buffer Target { float target_values[]; };

layout(push_constant) uniform Push {
  uint total;
  uint per_sample;
} pc;

void main() {
  uint i = flat_global_index();
  if (i >= pc.total) return;
  vec2 ab = coefs[i / pc.per_sample];
  float x = x0[i], e = eps[i];
  xt[i] = ab.x * x + ab.y * e;
  target_values[i] = PREDICT_V != 0 ? ab.x * e - ab.y * x : e;
}
