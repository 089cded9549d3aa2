#version 450
// One DDIM step (Song et al. 2021) from x_t to x_prev given the model output, all samples
// at the same timestep:
//   eps-model: eps = out;                 x0 = (x_t - b_t * eps) / a_t
//   v-model:   x0 = a_t * x_t - b_t * out; eps = b_t * x_t + a_t * out
//   x0 optionally clipped to [-1, 1] (then eps re-derived from it)
//   x_prev = a_prev * x0 + sqrt(b_prev^2 - sigma^2) * eps + sigma * z
// with a = sqrt(alpha_bar), b = sqrt(1 - alpha_bar), sigma from eta (0: deterministic).
// Indexing: one invocation per element, 1-D dispatch. x may be updated in place.
#include "common.glsl"

layout(constant_id = 3) const uint PREDICT_V = 0;
layout(constant_id = 4) const uint CLIP_X0 = 1;

layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Out { float model_out[]; };
layout(std430, binding = 2) readonly buffer Z { float z[]; };

layout(push_constant) uniform Push {
  uint total;
  float a_t, b_t;        // sqrt(alpha_bar_t), sqrt(1 - alpha_bar_t)
  float a_prev;          // sqrt(alpha_bar_prev)
  float dir_coef;        // sqrt(1 - alpha_bar_prev - sigma^2)
  float sigma;
} pc;

void main() {
  uint i = flat_global_index();
  if (i >= pc.total) return;
  float xt = x[i], o = model_out[i];
  float x0, eps;
  if (PREDICT_V != 0) {
    x0 = pc.a_t * xt - pc.b_t * o;
    eps = pc.b_t * xt + pc.a_t * o;
  } else {
    eps = o;
    x0 = (xt - pc.b_t * eps) / pc.a_t;
  }
  if (CLIP_X0 != 0) {
    x0 = clamp(x0, -1.0, 1.0);
    eps = (xt - pc.a_t * x0) / pc.b_t;
  }
  x[i] = pc.a_prev * x0 + pc.dir_coef * eps + pc.sigma * z[i];
}
