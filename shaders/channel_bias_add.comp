#version 450
// h[n, c, y, x] += v[n, c]: adds a per-sample, per-channel value (the U-Net's projected time
// embedding) to every position of a feature map. h may be a batch-strided view.
// Indexing: one invocation per element of h; workgroup row y (+ row_offset) is the (n, c)
// plane, x the position in it. No per-element integer division (lavapipe runs those lane by
// lane): the plane is uniform over the workgroup.
#include "common.glsl"
#include "portable_math.glsl"

layout(std430, binding = 0) buffer H { float h[]; };
layout(std430, binding = 1) readonly buffer V { float v[]; };

layout(push_constant) uniform Push {
  uint row_offset;  // first (n, c) plane of this dispatch (planes beyond 65535 take more dispatches)
  uint channels;    // C
  uint hw;          // H * W
  uint stride_h;    // batch stride of h in elements
} pc;

void main() {
  uint p = gl_GlobalInvocationID.x;
  if (p >= pc.hw) return;
  uint row = pc.row_offset + gl_WorkGroupID.y;  // n * C + c
  uint n = row / pc.channels;
  uint c = row - n * pc.channels;
#if PORTABLE
  uint i = n * pc.stride_h + c * pc.hw + p;
  h[i] = pm_add(pm_flush(h[i]), pm_flush(v[row]));
#else
  h[n * pc.stride_h + c * pc.hw + p] += v[row];
#endif
}
