#version 450
// Gradient of the conv bias: db[c] = sum_{n, p} dy[n, c, p], dy possibly a batch-strided view.
// Indexing: one workgroup per channel (group x = c). Each lane sums pixels lane, lane + L, ...
// of every sample in a fixed order, then a fixed shared-memory tree adds the L partial sums, so
// the result is bit-identical from run to run (no atomics). Local size must be a power of two.
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Dy { float dy[]; };
layout(std430, binding = 1) writeonly buffer Db { float db[]; };

layout(push_constant) uniform Push {
  uint batch;
  uint hw;
  uint batch_stride;
} pc;

shared float partial[gl_WorkGroupSize.x];

void main() {
  uint c = gl_WorkGroupID.x;
  uint lane = gl_LocalInvocationID.x;
  float s = 0.0;
  for (uint n = 0; n < pc.batch; ++n) {
    uint base = n * pc.batch_stride + c * pc.hw;
    for (uint p = lane; p < pc.hw; p += gl_WorkGroupSize.x) s += dy[base + p];
  }
  partial[lane] = s;
  barrier();
  for (uint width = gl_WorkGroupSize.x / 2; width > 0; width /= 2) {
    if (lane < width) partial[lane] += partial[lane + width];
    barrier();
  }
  if (lane == 0) db[c] = partial[0];
}
