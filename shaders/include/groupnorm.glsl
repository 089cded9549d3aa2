// Shared by the groupnorm_*.comp kernels: a deterministic workgroup sum, and the SiLU derivative
// for the fused activation.
#ifndef TESSERA_GROUPNORM_GLSL
#define TESSERA_GROUPNORM_GLSL

#include "activation.glsl"

// The local size is a power of two (the host guarantees it), so a halving tree covers every lane.
shared float groupnorm_sum_a[gl_WorkGroupSize.x];
shared float groupnorm_sum_b[gl_WorkGroupSize.x];

// Sums (a, b) over the workgroup. The tree has a fixed shape, so the result is bit-identical
// from run to run (no atomics, no dependence on scheduling); every lane gets the result.
vec2 workgroup_sum2(float a, float b) {
  uint lane = gl_LocalInvocationID.x;
  groupnorm_sum_a[lane] = a;
  groupnorm_sum_b[lane] = b;
  barrier();
  for (uint half_size = gl_WorkGroupSize.x / 2; half_size > 0; half_size >>= 1) {
    if (lane < half_size) {
      groupnorm_sum_a[lane] += groupnorm_sum_a[lane + half_size];
      groupnorm_sum_b[lane] += groupnorm_sum_b[lane + half_size];
    }
    barrier();
  }
  vec2 total = vec2(groupnorm_sum_a[0], groupnorm_sum_b[0]);
  barrier();  // the next call overwrites the arrays
  return total;
}

float workgroup_sum(float a) { return workgroup_sum2(a, 0.0).x; }

#endif
