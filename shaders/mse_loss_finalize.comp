#version 450
// Pass 2 of the MSE loss: one workgroup sums the block partials in a fixed order (lane l takes
// l, l+256, ... sequentially, then a fixed tree) and writes loss[0] = sum / numel.
#include "common.glsl"
#include "grad_norm.glsl"

layout(std430, binding = 0) readonly buffer Partial { float partial[]; };
layout(std430, binding = 1) writeonly buffer Loss { float loss[]; };

layout(push_constant) uniform Push {
  uint block_count;
  float inv_numel;
} pc;

void main() {
  uint lane = gl_LocalInvocationID.x;
  float sum = 0.0;
  for (uint i = lane; i < pc.block_count; i += kReduceLanes) sum += partial[i];
  float total = workgroup_tree_sum(sum);
  if (lane == 0) loss[0] = total * pc.inv_numel;
}
