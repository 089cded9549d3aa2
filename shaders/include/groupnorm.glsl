// Shared by the groupnorm_*.comp kernels: a deterministic workgroup sum, and the element width.
//
// Every kernel comes in two widths, set by its row in shaders/variants.txt (glslc -D):
// GROUPNORM_WIDTH 1 (any shape) and 4 (H*W and all batch strides multiples of 4: every U-Net
// image). Width 4 binds the inputs as RGBA32F texel buffers and the outputs as vec4 arrays, so
// each lane moves 16 bytes per load/store: lavapipe issues storage stores lane by lane, and the
// vec4 forms run ~5x faster there. Indices inside the shaders are in units of gn_value; push
// constants are in elements and are divided by the width here.
#ifndef TESSERA_GROUPNORM_GLSL
#define TESSERA_GROUPNORM_GLSL

#include "activation.glsl"
#include "portable_math.glsl"

#if GROUPNORM_WIDTH == 4
#define gn_value vec4
#define gn_load(buffer, i) texelFetch(buffer, int(i))
#define gn_hsum(v) (((v).x + (v).y) + ((v).z + (v).w))
#elif GROUPNORM_WIDTH == 1
#define gn_value float
#define gn_load(buffer, i) texelFetch(buffer, int(i)).x
#define gn_hsum(v) (v)
#else
#error "GROUPNORM_WIDTH must be 1 or 4 (set by the kernel's row in shaders/variants.txt)"
#endif

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

#if PORTABLE
#if GROUPNORM_WIDTH != 1
#error "the portable groupnorm kernels are scalar (docs/portable.md sums element by element)"
#endif
// docs/portable.md's groupnorm sum: the same halving tree with flushed adds; with the 64 lanes
// the host gives portable kernels, the tree is the contract's.
float workgroup_sum_portable(float a) {
  uint lane = gl_LocalInvocationID.x;
  groupnorm_sum_a[lane] = a;
  barrier();
  for (uint half_size = gl_WorkGroupSize.x / 2; half_size > 0; half_size >>= 1) {
    if (lane < half_size) groupnorm_sum_a[lane] = pm_add(groupnorm_sum_a[lane], groupnorm_sum_a[lane + half_size]);
    barrier();
  }
  float total = groupnorm_sum_a[0];
  barrier();
  return total;
}
#endif

#endif
