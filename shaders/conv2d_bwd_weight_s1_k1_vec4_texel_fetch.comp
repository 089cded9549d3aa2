#version 450
// TexelFetch variant (fast on lavapipe), 1x1 weight gradient for maps whose width is a
// multiple of 8; one split of a split-K sum over output rows:
//   part[s, co, ci] = sum_{(n, y) in split s} sum_x dy[n,co,y,x] * x[n,ci,y,x]
// conv2d_reduce_splits adds the splits in order.
//
// Tiling: workgroup (gx, gy, gz) owns input channels 4*(gx*local_size + l) .. +3 in lane l,
// output channels gy*8 .. gy*8+7, and split gz. Pixels go in runs of 8 along a row, read as two
// aligned vec4 texel fetches per channel: a run costs 8 x + 16 dy fetches for 256 multiply-adds
// (one input channel per lane would be 2 + 16 for 64). Texel fetches, not arithmetic, bound
// these kernels on lavapipe (docs/PERF.md).
#include "common.glsl"
#include "conv2d.glsl"

layout(binding = 0) uniform samplerBuffer x4;   // x as vec4 texels
layout(binding = 1) uniform samplerBuffer dy4;  // dy as vec4 texels
layout(std430, binding = 2) writeonly buffer Part { float part[]; };

void main() {
  int lane = int(gl_LocalInvocationID.x);
  int split = int(gl_WorkGroupID.z);
  int m0 = int(gl_WorkGroupID.y) * 8;
  int h = pc.in_h, w = pc.in_w, hw = h * w;
  int c0 = (int(gl_WorkGroupID.x) * int(gl_WorkGroupSize.x) + lane) * 4;
  // Channels past the end read a valid (clamped) channel and are never stored.
  int xc0 = min(c0, pc.in_channels - 1) * hw, xc1 = min(c0 + 1, pc.in_channels - 1) * hw;
  int xc2 = min(c0 + 2, pc.in_channels - 1) * hw, xc3 = min(c0 + 3, pc.in_channels - 1) * hw;
  int rows = pc.batch * h;
  int row_begin = split * pc.split_pixels;
  int row_end = min(row_begin + pc.split_pixels, rows);

  // a<r>: output channel m0 + r against input channels c0 .. c0+3 (one vec4 component each).
  vec4 a0 = vec4(0), a1 = vec4(0), a2 = vec4(0), a3 = vec4(0);
  vec4 a4 = vec4(0), a5 = vec4(0), a6 = vec4(0), a7 = vec4(0);

  int img = row_begin / h, y = row_begin - img * h;
  for (int row = row_begin; row < row_end; ++row) {
    int x_row = img * pc.in_batch_stride + y * w;
    int dy_row = img * pc.out_batch_stride + m0 * hw + y * w;
    for (int x0 = 0; x0 < w; x0 += 8) {
      int xi = (x_row + x0) >> 2;
      vec4 s0 = texelFetch(x4, xi + (xc0 >> 2)), t0 = texelFetch(x4, xi + (xc0 >> 2) + 1);
      vec4 s1 = texelFetch(x4, xi + (xc1 >> 2)), t1 = texelFetch(x4, xi + (xc1 >> 2) + 1);
      vec4 s2 = texelFetch(x4, xi + (xc2 >> 2)), t2 = texelFetch(x4, xi + (xc2 >> 2) + 1);
      vec4 s3 = texelFetch(x4, xi + (xc3 >> 2)), t3 = texelFetch(x4, xi + (xc3 >> 2) + 1);
#define DY_ROW(r, acc)                                                                       \
      {                                                                                      \
        int d = (dy_row + min(r, pc.out_channels - 1 - m0) * hw + x0) >> 2;                  \
        vec4 da = texelFetch(dy4, d), db = texelFetch(dy4, d + 1);                           \
        acc += vec4(dot(da, s0) + dot(db, t0), dot(da, s1) + dot(db, t1),                    \
                    dot(da, s2) + dot(db, t2), dot(da, s3) + dot(db, t3));                   \
      }
      DY_ROW(0, a0) DY_ROW(1, a1) DY_ROW(2, a2) DY_ROW(3, a3)
      DY_ROW(4, a4) DY_ROW(5, a5) DY_ROW(6, a6) DY_ROW(7, a7)
#undef DY_ROW
    }
    if (++y == h) {
      y = 0;
      ++img;
    }
  }

  vec4 acc[8] = vec4[8](a0, a1, a2, a3, a4, a5, a6, a7);
  int slice = split * pc.out_channels * pc.in_channels;
  for (int r = 0; r < 8; ++r) {
    int m = m0 + r;
    if (m >= pc.out_channels) break;
    for (int j = 0; j < 4; ++j)
      if (c0 + j < pc.in_channels) part[slice + m * pc.in_channels + c0 + j] = acc[r][j];
  }
}
