#version 450
// GroupNorm backward, pass 2: input gradient and parameter gradients.
//   dxhat = gamma[c] * dz,   A = sum_{c in g} gamma[c] * partial[n, c].x = sum_group dxhat
//                            B = sum_{c in g} gamma[c] * partial[n, c].y = sum_group dxhat * xhat
//   dx = rstd_g * (dxhat - A / M - xhat * B / M)        (+ the old dx when accumulating)
//   dbeta[c] = sum_n partial[n, c].x,  dgamma[c] = sum_n partial[n, c].y   (overwritten)
// dz and xhat are recomputed as in pass 1 (groupnorm_bwd_reduce.comp).
// Indexing: NCHW f32 with batch strides (views) for x, dy, dx; stats [N, G, 2]; partial [N, C, 2].
// Tiling: one workgroup per (n, g), id = n * G + g. Every lane forms A and B itself from the C/G
// partials in channel order (a handful of loads, no barrier, same order everywhere), then writes
// pixels lane, lane + L, ... of each channel. Workgroups of sample 0 also reduce dgamma/dbeta of
// their group's channels over n in order 0..N-1: deterministic, no atomics, no extra dispatch.
// Kernels (shaders/variants.txt): `groupnorm_bwd_dx` (GROUPNORM_WIDTH 1, any shape) and
// `groupnorm_bwd_dx_vec4` (4: H*W and batch strides % 4 == 0; see include/groupnorm.glsl).
#include "common.glsl"
#include "groupnorm.glsl"

layout(binding = 0) uniform samplerBuffer x;
layout(binding = 1) uniform samplerBuffer dy;
layout(std430, binding = 2) readonly buffer Gamma { float gamma[]; };
layout(std430, binding = 3) readonly buffer Beta { float beta[]; };
layout(std430, binding = 4) readonly buffer Stats { float stats[]; };
layout(std430, binding = 5) readonly buffer Partial { float partial[]; };
layout(std430, binding = 6) buffer Dx { gn_value dx[]; };
layout(std430, binding = 7) writeonly buffer Dgamma { float dgamma[]; };
layout(std430, binding = 8) writeonly buffer Dbeta { float dbeta[]; };

layout(push_constant) uniform Push {
  uint batch;
  uint channels;
  uint hw;
  uint groups;
  uint x_batch_stride;
  uint dy_batch_stride;
  uint dx_batch_stride;
  uint fused_silu;
  uint accumulate;
} pc;

void main() {
  uint group_id = gl_WorkGroupID.x;  // n * G + g
  uint n = group_id / pc.groups;
  uint g = group_id % pc.groups;
  uint channels_per_group = pc.channels / pc.groups;
  uint first_channel = g * channels_per_group;
  float inv_m = 1.0 / float(channels_per_group * pc.hw);
  float mean = stats[2 * group_id];
  float rstd = stats[2 * group_id + 1];
  uint lane = gl_LocalInvocationID.x;
  uint lanes = gl_WorkGroupSize.x;

  float sum_dxhat = 0.0;
  float sum_dxhat_xhat = 0.0;
  for (uint k = 0; k < channels_per_group; ++k) {
    uint c = first_channel + k;
    sum_dxhat += gamma[c] * partial[2 * (n * pc.channels + c)];
    sum_dxhat_xhat += gamma[c] * partial[2 * (n * pc.channels + c) + 1];
  }
  float mean_dxhat = sum_dxhat * inv_m;
  float mean_dxhat_xhat = sum_dxhat_xhat * inv_m;

  uint hw = pc.hw / GROUPNORM_WIDTH;
  uint x_base = n * (pc.x_batch_stride / GROUPNORM_WIDTH);
  uint dy_base = n * (pc.dy_batch_stride / GROUPNORM_WIDTH);
  uint dx_base = n * (pc.dx_batch_stride / GROUPNORM_WIDTH);
  uint group_offset = first_channel * hw;
  for (uint k = 0; k < channels_per_group; ++k) {
    uint c = first_channel + k;
    float gm = gamma[c];
    float bt = beta[c];
    uint offset = group_offset + k * hw;
    for (uint p = lane; p < hw; p += lanes) {
      gn_value xhat = (gn_load(x, x_base + offset + p) - mean) * rstd;
      gn_value dz = gn_load(dy, dy_base + offset + p);
      if (pc.fused_silu != 0u) dz *= silu_derivative(gm * xhat + bt);
      gn_value grad = rstd * (gm * dz - mean_dxhat - xhat * mean_dxhat_xhat);
      uint i = dx_base + offset + p;
      dx[i] = pc.accumulate != 0u ? dx[i] + grad : grad;
    }
  }

  if (n == 0) {
    for (uint k = lane; k < channels_per_group; k += lanes) {
      uint c = first_channel + k;
      float sum_dz = 0.0;
      float sum_dz_xhat = 0.0;
      for (uint s = 0; s < pc.batch; ++s) {
        sum_dz += partial[2 * (s * pc.channels + c)];
        sum_dz_xhat += partial[2 * (s * pc.channels + c) + 1];
      }
      dbeta[c] = sum_dz;
      dgamma[c] = sum_dz_xhat;
    }
  }
}
