#version 450
// The exact denoiser for Gaussian data x0 ~ N(mu, s^2 I), used to test the samplers against
// closed-form answers. With x_t = a x0 + b eps (a^2 = alpha_bar_t, a^2 + b^2 = 1):
//   E[eps | x_t] = b (x_t - a mu) / (a^2 s^2 + b^2)
//   E[x0  | x_t] = mu + a s^2 (x_t - a mu) / (a^2 s^2 + b^2)
//   v-model output = a E[eps] - b E[x0]
// The timestep of each sample is read from the device (as the U-Net does) and alpha_bar from
// a table, so the oracle drops into the sampler in the U-Net's place.
// Indexing: one invocation per element of x [N, C, H, W] (dense), 1-D dispatch.
#include "common.glsl"

layout(constant_id = 3) const uint PREDICT_V = 0;

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer T { float timesteps[]; };     // [N]
layout(std430, binding = 2) readonly buffer AB { float alpha_bar[]; };    // [T]
layout(std430, binding = 3) writeonly buffer Out { float result[]; };

layout(push_constant) uniform Push {
  uint total;
  uint per_sample;
  float mu, s2;  // mean and variance of the data
} pc;

void main() {
  uint i = flat_global_index();
  if (i >= pc.total) return;
  float ab = alpha_bar[uint(timesteps[i / pc.per_sample])];
  float a = sqrt(ab), b = sqrt(1.0 - ab);
  float centred = x[i] - a * pc.mu;
  float denom = ab * pc.s2 + b * b;
  float eps = b * centred / denom;
  if (PREDICT_V == 0) {
    result[i] = eps;
  } else {
    float x0 = pc.mu + a * pc.s2 * centred / denom;
    result[i] = a * eps - b * x0;
  }
}
