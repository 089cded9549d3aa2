#version 450
// One sampler step for every sampler (DDPM ancestral, DDIM, DPM-Solver++(2M)), all samples at
// the same timestep. Each of them is a linear combination once x0 and eps are known:
//   model output  o = o_u + w (o_c - o_u)         classifier-free guidance (GUIDED = 1; w = 1 is
//                                                  o_c): the null pass is the second half of model_out
//   eps-model:    eps = o,  x0 = (x - b_t eps) / a_t
//   v-model:      x0 = a_t x - b_t o,  eps = b_t x + a_t o
//   CLIP_X0:      x0 clamped to [-1, 1], eps re-derived from it
//   x_prev = c_x x + c_x0 x0 + c_x0_last x0_last + c_eps eps + sigma z
// The host computes the coefficients per sampler (runtime/src/diffusion/sampler_schedule.cpp).
// x0_buf holds the previous step's x0 on entry (read when USE_HISTORY, for DPM-Solver++(2M))
// and this step's x0 on exit (the history for the next step, and the preview image).
// Indexing: one invocation per element of x [N, C, H, W] (dense), 1-D dispatch; in place.
#include "common.glsl"
#include "portable_math.glsl"

layout(constant_id = 3) const uint PREDICT_V = 0;
layout(constant_id = 4) const uint CLIP_X0 = 1;
layout(constant_id = 5) const uint GUIDED = 0;
layout(constant_id = 6) const uint USE_HISTORY = 0;

layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Out { float model_out[]; };  // [N] or [2N] when GUIDED
layout(std430, binding = 2) readonly buffer Z { float z[]; };
layout(std430, binding = 3) buffer X0 { float x0_buf[]; };

layout(push_constant) uniform Push {
  uint total;
  float guidance;
  float a_t, b_t;
  float c_x, c_x0, c_x0_last, c_eps, sigma;
  float inv_a_t, inv_b_t;  // f32(1 / a_t), f32(1 / b_t) from the host's doubles (PORTABLE)
} pc;

void main() {
  uint i = flat_global_index();
  if (i >= pc.total) return;
#if PORTABLE
  // docs/portable.md's sampler_step: no division, flushed add/mul in the stated order.
  float xt = pm_flush(x[i]);
  float o = pm_flush(model_out[i]);
  if (GUIDED != 0) {
    float uncond = pm_flush(model_out[i + pc.total]);
    o = pm_add(uncond, pm_mul(pc.guidance, pm_sub(o, uncond)));
  }
  float x0, eps;
  if (PREDICT_V != 0) {
    x0 = pm_sub(pm_mul(pc.a_t, xt), pm_mul(pc.b_t, o));
    eps = pm_add(pm_mul(pc.b_t, xt), pm_mul(pc.a_t, o));
  } else {
    eps = o;
    x0 = pm_mul(pm_sub(xt, pm_mul(pc.b_t, eps)), pc.inv_a_t);
  }
  if (CLIP_X0 != 0) {
    x0 = min(max(x0, -1.0), 1.0);
    eps = pm_mul(pm_sub(xt, pm_mul(pc.a_t, x0)), pc.inv_b_t);
  }
  float next = pm_add(pm_add(pm_add(pm_mul(pc.c_x, xt), pm_mul(pc.c_x0, x0)), pm_mul(pc.c_eps, eps)),
                      pm_mul(pc.sigma, pm_flush(z[i])));
  if (USE_HISTORY != 0) next = pm_add(next, pm_mul(pc.c_x0_last, pm_flush(x0_buf[i])));
  x[i] = next;
  x0_buf[i] = x0;
#else
  float xt = x[i];
  float o = model_out[i];
  if (GUIDED != 0) {
    float uncond = model_out[i + pc.total];
    o = uncond + pc.guidance * (o - uncond);
  }
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
  float next = pc.c_x * xt + pc.c_x0 * x0 + pc.c_eps * eps + pc.sigma * z[i];
  if (USE_HISTORY != 0) next += pc.c_x0_last * x0_buf[i];
  x[i] = next;
  x0_buf[i] = x0;
#endif
}
