// Body of groupnorm_bwd_reduce.comp and groupnorm_bwd_reduce_vec4.comp (see there); include after
// defining GROUPNORM_WIDTH.
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
