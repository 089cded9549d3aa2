#version 450
// h[n, c, y, x] += v[n, c]: adds a per-sample, per-channel value (the U-Net's projected time
// embedding) to every position of a feature map. h may be a batch-strided view.
// Indexing: one invocation per element of h, 1-D dispatch (flat_global_index).
#include "common.glsl"

layout(std430, binding = 0) buffer H { float h[]; };
layout(std430, binding = 1) readonly buffer V { float v[]; };

layout(push_constant) uniform Push {
  uint total;     // N * C * HW
  uint channels;  // C
  uint hw;        // H * W
  uint stride_h;  // batch stride of h in elements
} pc;

void main() {
  uint i = flat_global_index();
  if (i >= pc.total) return;
  uint per_sample = pc.channels * pc.hw;
  uint n = i / per_sample;
  uint r = i - n * per_sample;
  uint c = r / pc.hw;
  h[n * pc.stride_h + r] += v[n * pc.channels + c];
}
