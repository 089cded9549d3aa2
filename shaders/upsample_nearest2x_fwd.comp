#version 450
// Nearest-neighbour 2x upsample: y[n, c, 2h + a, 2w + b] = x[n, c, h, w] for a, b in {0, 1}.
// Indexing: NCHW f32 with batch strides (views allowed). One invocation per INPUT element
// i = (c * H + h) * W + w of sample n (gl_WorkGroupID.z): one texel read, four stores. Its
// 2x2 output block starts at 4 * W * (c * H + h) + 2 * w (rows of the output are 2W long).
#include "common.glsl"

layout(binding = 0) uniform samplerBuffer x;
layout(std430, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
  uint per_sample;  // C * H * W of x
  uint width;       // W of x
  uint x_batch_stride;
  uint y_batch_stride;
} pc;

void main() {
  uint i = flat_global_index();
  if (i >= pc.per_sample) return;
  uint n = gl_WorkGroupID.z;
  uint row = i / pc.width;  // c * H + h
  uint w = i - row * pc.width;
  float v = texelFetch(x, int(n * pc.x_batch_stride + i)).x;
  uint o = n * pc.y_batch_stride + 4 * pc.width * row + 2 * w;
  y[o] = v;
  y[o + 1] = v;
  y[o + 2 * pc.width] = v;
  y[o + 2 * pc.width + 1] = v;
}
