#version 450
// GroupNorm backward, pass 1: per (sample, channel) sums of the pre-activation gradient
//   dz = fused_silu ? dy * silu'(z) : dy,   xhat = (x - mean_g) * rstd_g,  z = gamma[c] * xhat + beta[c]
//   partial[n, c] = (sum_p dz, sum_p dz * xhat)        (p over the H*W pixels)
// These give dbeta, dgamma (summed over n in pass 2) and the two group means that dx needs.
// With SiLU fused, z is recomputed from x and the saved stats instead of being stored.
// Indexing: NCHW f32 with batch strides (views); stats [N, G, 2]; partial [N, C, 2] dense.
// Tiling: one workgroup per (n, c), id = n * C + c; lane l takes pixels l, l + L, ...; the lane
// sums are combined by a fixed tree (deterministic). x and dy are read through texel buffers.
// Kernels (shaders/variants.txt): `groupnorm_bwd_reduce` (GROUPNORM_WIDTH 1, any shape) and
// `groupnorm_bwd_reduce_vec4` (4: H*W and batch strides % 4 == 0; see include/groupnorm.glsl).
#include "common.glsl"
#include "groupnorm.glsl"

layout(binding = 0) uniform samplerBuffer x;
layout(binding = 1) uniform samplerBuffer dy;
layout(std430, binding = 2) readonly buffer Gamma { float gamma[]; };
layout(std430, binding = 3) readonly buffer Beta { float beta[]; };
layout(std430, binding = 4) readonly buffer Stats { float stats[]; };
layout(std430, binding = 5) writeonly buffer Partial { float partial[]; };

layout(push_constant) uniform Push {
  uint channels;
  uint hw;
  uint groups;
  uint x_batch_stride;
  uint dy_batch_stride;
  uint fused_silu;
} pc;

void main() {
  uint channel_id = gl_WorkGroupID.x;  // n * C + c
  uint n = channel_id / pc.channels;
  uint c = channel_id % pc.channels;
  uint g = c / (pc.channels / pc.groups);
  float mean = stats[2 * (n * pc.groups + g)];
  float rstd = stats[2 * (n * pc.groups + g) + 1];
  float gm = gamma[c];
  float bt = beta[c];
  uint hw = pc.hw / GROUPNORM_WIDTH;
  uint x_base = n * (pc.x_batch_stride / GROUPNORM_WIDTH) + c * hw;
  uint dy_base = n * (pc.dy_batch_stride / GROUPNORM_WIDTH) + c * hw;

  float sum_dz = 0.0;
  float sum_dz_xhat = 0.0;
  for (uint p = gl_LocalInvocationID.x; p < hw; p += gl_WorkGroupSize.x) {
    gn_value xhat = (gn_load(x, x_base + p) - mean) * rstd;
    gn_value dz = gn_load(dy, dy_base + p);
    if (pc.fused_silu != 0u) dz *= silu_derivative(gm * xhat + bt);
    sum_dz += gn_hsum(dz);
    sum_dz_xhat += gn_hsum(dz * xhat);
  }
  vec2 total = workgroup_sum2(sum_dz, sum_dz_xhat);
  if (gl_LocalInvocationID.x == 0) {
    partial[2 * channel_id] = total.x;
    partial[2 * channel_id + 1] = total.y;
  }
}
