#version 450
// Pass 2 of the global gradient norm: one workgroup sums every partial slot in a fixed order
// (lane l takes slots l, l+256, ... sequentially, then a fixed tree) and writes
//   result[0] = sqrt(sum)                                   the global L2 norm
//   result[1] = min(1, max_norm / (norm + 1e-6))            the clip coefficient
// exactly as torch.nn.utils.clip_grad_norm_ forms it (max_norm = +inf: coefficient 1).
#include "common.glsl"
#include "grad_norm.glsl"

layout(std430, binding = 0) readonly buffer Partial { float partial[]; };
layout(std430, binding = 1) writeonly buffer Result { float result[]; };

layout(push_constant) uniform Push {
  uint slot_count;
  float max_norm;
} pc;

void main() {
  uint lane = gl_LocalInvocationID.x;
  float sum = 0.0;
  for (uint i = lane; i < pc.slot_count; i += kReduceLanes) sum += partial[i];
  float total = workgroup_tree_sum(sum);
  if (lane == 0) {
    float norm = sqrt(total);
    float coefficient = pc.max_norm / (norm + 1e-6);
    result[0] = norm;
    result[1] = min(coefficient, 1.0);
  }
}
