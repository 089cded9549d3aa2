// Body of groupnorm_fwd.comp and groupnorm_fwd_vec4.comp (see there); include after
// defining GROUPNORM_WIDTH.
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
