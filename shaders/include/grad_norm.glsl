// Fixed-order workgroup sum shared by the grad_norm and mse_loss reductions.
// Determinism (bit-identical training resume) rules out float atomics and subgroup
// arithmetic (whose combining order the spec leaves open), so every sum here is a binary
// tree over shared memory with a fixed pairing: lane i adds lane i + stride, stride halving.
// The including shader must use a local size of exactly kReduceLanes (the host does).
#ifndef TESSERA_GRAD_NORM_GLSL
#define TESSERA_GRAD_NORM_GLSL

const uint kReduceLanes = 256;
shared float reduce_lanes[kReduceLanes];

// Returns the sum of `value` over the workgroup in lane 0 (other lanes get partial sums).
// Must be reached by every lane of the workgroup (it contains barriers).
float workgroup_tree_sum(float value) {
  uint lane = gl_LocalInvocationID.x;
  reduce_lanes[lane] = value;
  barrier();
  for (uint stride = kReduceLanes / 2; stride > 0; stride /= 2) {
    if (lane < stride) reduce_lanes[lane] += reduce_lanes[lane + stride];
    barrier();
  }
  return reduce_lanes[0];
}

// Flat index of this workgroup in a 1-D dispatch spread over x and y (see groups_1d).
uint flat_workgroup_index() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }

#endif
