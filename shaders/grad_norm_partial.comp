#version 450
// Pass 1 of the global gradient norm: partial[b] = sum of g[i]^2 over block b of one tensor.
// Indexing: workgroup b (flat over x/y) covers elements [b*kBlock, (b+1)*kBlock), kBlock =
// 256 lanes * kItemsPerLane; lane l sums elements b*kBlock + k*256 + l for k = 0.. in order
// (coalesced on GPUs), then a fixed-order tree sums the lanes. Workgroup 0 also zeroes the
// padding slots [block_count, slot_count) so the final pass can sum the whole slot range.
// No tiling beyond that; the op is memory bound.
#include "common.glsl"
#include "grad_norm.glsl"

const uint kItemsPerLane = 16;

layout(std430, binding = 0) readonly buffer Grad { float grad[]; };
layout(std430, binding = 1) writeonly buffer Partial { float partial[]; };

layout(push_constant) uniform Push {
  uint n;            // elements in the tensor
  uint block_count;  // workgroups that carry data
  uint slot_count;   // slots owned by this tensor (block_count rounded up to 64)
} pc;

void main() {
  uint block = flat_workgroup_index();
  uint lane = gl_LocalInvocationID.x;
  float sum = 0.0;
  uint base = block * kReduceLanes * kItemsPerLane + lane;
  for (uint k = 0; k < kItemsPerLane; ++k) {
    uint i = base + k * kReduceLanes;
    if (block < pc.block_count && i < pc.n) sum += grad[i] * grad[i];
  }
  float total = workgroup_tree_sum(sum);
  if (block < pc.block_count && lane == 0) partial[block] = total;
  if (block == 0 && pc.block_count + lane < pc.slot_count) partial[pc.block_count + lane] = 0.0;
}
