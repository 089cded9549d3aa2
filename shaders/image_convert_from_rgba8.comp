#version 450
// Packed RGBA8 (one u32 per pixel, R in the low byte) -> float NCHW (C = 3 or 4):
// x = byte / 127.5 - 1 (alpha dropped when C = 3). byte -> float -> byte is the identity.
// Indexing: one invocation per pixel (n, y, x), 1-D over x/y; writes its C channel values.
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Packed { uint packed_pixels[]; };
layout(std430, binding = 1) writeonly buffer Image { float image[]; };

layout(push_constant) uniform Push {
  uint n;  // N * H * W
  uint plane;  // H * W
  uint channels;
} pc;

void main() {
  uint pixel = flat_global_index();
  if (pixel >= pc.n) return;
  uint sample_index = pixel / pc.plane;
  uint offset = pixel - sample_index * pc.plane;
  uint base = sample_index * pc.channels * pc.plane + offset;
  uint rgba = packed_pixels[pixel];
  for (uint c = 0; c < pc.channels; ++c) image[base + c * pc.plane] = float((rgba >> (8 * c)) & 0xffu) / 127.5 - 1.0;
}
