#version 450
// Backward of the nearest 2x upsample: dx[n, c, h, w] = sum over a, b in {0, 1} of
// dy[n, c, 2h + a, 2w + b], added to dx when accumulating. The four terms are summed in a fixed
// order (row 2h first), so results are deterministic.
// Indexing as in upsample_nearest2x_fwd.comp: one invocation per dx element, four texel reads.
#include "common.glsl"

layout(binding = 0) uniform samplerBuffer dy;
layout(std430, binding = 1) buffer Dx { float dx[]; };

layout(push_constant) uniform Push {
  uint per_sample;  // C * H * W of dx
  uint width;       // W of dx
  uint dy_batch_stride;
  uint dx_batch_stride;
  uint accumulate;
} pc;

void main() {
  uint i = flat_global_index();
  if (i >= pc.per_sample) return;
  uint n = gl_WorkGroupID.z;
  uint row = i / pc.width;
  uint w = i - row * pc.width;
  int o = int(n * pc.dy_batch_stride + 4 * pc.width * row + 2 * w);
  int below = int(2 * pc.width);
  float grad = (texelFetch(dy, o).x + texelFetch(dy, o + 1).x) + (texelFetch(dy, o + below).x + texelFetch(dy, o + below + 1).x);
  uint j = n * pc.dx_batch_stride + i;
  dx[j] = pc.accumulate != 0u ? dx[j] + grad : grad;
}
