#version 450
// GroupNorm forward, optionally with SiLU fused:
//   z = gamma[c] * (x - mean_g) * rstd_g + beta[c],  y = fused_silu ? silu(z) : z,
//   mean_g, var_g over the C/G channels of group g of one sample (M = C/G*H*W elements),
//   rstd_g = 1/sqrt(var_g + eps); stats[n, g] = (mean_g, rstd_g) is saved for the backward pass.
// Indexing: NCHW f32; element (n, c, p) of x is at n * x_batch_stride + c * HW + p (x and y may be
// channel views of a larger tensor, hence the batch strides). A group is M consecutive elements.
// Tiling: one workgroup per (n, g), id = n * G + g. Exact two-pass statistics in fp32: pass 1 sums
// x for the mean, pass 2 sums (x - mean)^2 (no E[x^2] - E[x]^2 cancellation), pass 3 writes y.
// Lane l handles elements l, l + L, ... (coalesced on GPUs, consecutive texels per SIMD row on
// lavapipe); per-lane partial sums are combined by a fixed tree, so results are deterministic.
// x is read through a texel buffer (vectorized gathers on lavapipe); the group (<= 128 KiB for
// 32768 elements) stays in cache between passes.
// Kernels (shaders/variants.txt): `groupnorm_fwd` (GROUPNORM_WIDTH 1, any shape) and
// `groupnorm_fwd_vec4` (4: H*W and batch strides % 4 == 0; see include/groupnorm.glsl).
#include "common.glsl"
#include "groupnorm.glsl"

layout(binding = 0) uniform samplerBuffer x;
layout(std430, binding = 1) readonly buffer Gamma { float gamma[]; };
layout(std430, binding = 2) readonly buffer Beta { float beta[]; };
layout(std430, binding = 3) writeonly buffer Y { gn_value y[]; };
layout(std430, binding = 4) writeonly buffer Stats { float stats[]; };

layout(push_constant) uniform Push {
  uint channels;
  uint hw;
  uint groups;
  uint x_batch_stride;
  uint y_batch_stride;
  float eps;
  uint fused_silu;
  float inv_count;  // f32(1 / (C/G * H * W)) from the host's double (PORTABLE)
} pc;

void main() {
  uint group_id = gl_WorkGroupID.x;  // n * G + g
  uint n = group_id / pc.groups;
  uint g = group_id % pc.groups;
  uint channels_per_group = pc.channels / pc.groups;
  uint m = channels_per_group * pc.hw / GROUPNORM_WIDTH;  // group size in gn_values
  uint hw = pc.hw / GROUPNORM_WIDTH;
  uint x_base = n * (pc.x_batch_stride / GROUPNORM_WIDTH) + g * m;
  uint y_base = n * (pc.y_batch_stride / GROUPNORM_WIDTH) + g * m;
  uint lane = gl_LocalInvocationID.x;
  uint lanes = gl_WorkGroupSize.x;

#if PORTABLE
  // docs/portable.md's groupnorm (scalar width, 64 lanes).
  {
    float sum = 0.0;
    for (uint i = lane; i < m; i += lanes) sum = pm_add(sum, pm_flush(gn_load(x, x_base + i)));
    float mean = pm_mul(workgroup_sum_portable(sum), pc.inv_count);
    float sum_sq = 0.0;
    for (uint i = lane; i < m; i += lanes) {
      float d = pm_sub(pm_flush(gn_load(x, x_base + i)), mean);
      sum_sq = pm_add(sum_sq, pm_mul(d, d));
    }
    float rstd = pm_rsqrt(pm_add(pm_mul(workgroup_sum_portable(sum_sq), pc.inv_count), pc.eps));
    if (lane == 0) {
      stats[2 * group_id] = mean;
      stats[2 * group_id + 1] = rstd;
    }
    for (uint k = 0; k < channels_per_group; ++k) {
      uint c = g * channels_per_group + k;
      float scale = pm_mul(pm_flush(gamma[c]), rstd);
      float shift = pm_flush(beta[c]);
      uint offset = k * hw;
      for (uint p = lane; p < hw; p += lanes) {
        float z = pm_add(pm_mul(pm_sub(pm_flush(gn_load(x, x_base + offset + p)), mean), scale), shift);
        y[y_base + offset + p] = pc.fused_silu != 0u ? pm_silu(z) : z;
      }
    }
    return;
  }
#endif
  float sum = 0.0;
  for (uint i = lane; i < m; i += lanes) sum += gn_hsum(gn_load(x, x_base + i));
  float mean = workgroup_sum(sum) / float(channels_per_group * pc.hw);

  float sum_sq = 0.0;
  for (uint i = lane; i < m; i += lanes) {
    gn_value d = gn_load(x, x_base + i) - mean;
    sum_sq += gn_hsum(d * d);
  }
  float rstd = inversesqrt(workgroup_sum(sum_sq) / float(channels_per_group * pc.hw) + pc.eps);
  if (lane == 0) {
    stats[2 * group_id] = mean;
    stats[2 * group_id + 1] = rstd;
  }

  // Channel-major loops avoid a division per element to find the channel.
  for (uint k = 0; k < channels_per_group; ++k) {
    uint c = g * channels_per_group + k;
    float scale = gamma[c] * rstd;
    float shift = beta[c];
    uint offset = k * hw;
    for (uint p = lane; p < hw; p += lanes) {
      // (x - mean) first: x * scale + (beta - mean * scale) would cancel when |mean| >> std.
      gn_value z = (gn_load(x, x_base + offset + p) - mean) * scale + shift;
      y[y_base + offset + p] = pc.fused_silu != 0u ? silu(z) : z;
    }
  }
}
