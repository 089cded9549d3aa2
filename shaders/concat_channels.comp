#version 450
// Channel concat by copy: out[n, 0:Ca] = a[n], out[n, Ca:Ca+Cb] = b[n] (NCHW f32; per sample the
// channels of a, then those of b, are contiguous, so this is two contiguous runs per sample).
// Only for producers that cannot write into channel views of `out` (see ops/concat.hpp).
// Indexing: one invocation per element p of out's sample n (gl_WorkGroupID.z); a, b, out may have
// batch strides. a and b are read as texels.
#include "common.glsl"

layout(binding = 0) uniform samplerBuffer a;
layout(binding = 1) uniform samplerBuffer b;
layout(std430, binding = 2) writeonly buffer Out { float result[]; };

layout(push_constant) uniform Push {
  uint per_sample;  // (Ca + Cb) * H * W
  uint a_per_sample;  // Ca * H * W
  uint a_batch_stride;
  uint b_batch_stride;
  uint out_batch_stride;
} pc;

void main() {
  uint p = flat_global_index();
  if (p >= pc.per_sample) return;
  uint n = gl_WorkGroupID.z;
  float v = p < pc.a_per_sample ? texelFetch(a, int(n * pc.a_batch_stride + p)).x
                                : texelFetch(b, int(n * pc.b_batch_stride + p - pc.a_per_sample)).x;
  result[n * pc.out_batch_stride + p] = v;
}
