#version 450
// TexelFetch variant (fast on lavapipe), 3x3 stride-1 weight gradient for maps whose width
// is a multiple of 8; one split of a split-K sum over output rows:
//   part[s, co, ci, ky, kx] = sum_{(n, oy) in split s} sum_ox dy[n,co,oy,ox] * x[n,ci,oy-1+ky,ox-1+kx]
// (x wrapped (circular) or zero outside). conv2d_reduce_splits adds the splits in order.
//
// Unlike a kernel with one kernel row per workgroup (the previous design), a lane here keeps all
// three kernel rows: the dy rows it fetches for a run of 8 pixels serve 3 x 3 taps instead of
// 3, so a run costs 12 x fetches + 16 dy fetches for 576 multiply-adds (20.6 per fetch, against
// 9.6). Texel fetches, not arithmetic, bound these kernels on lavapipe (docs/PERF.md); measured
// 1.5x the one-row kernel's GFLOP per CPU-second (4 output channels per lane: 1.35x).
//
// Tiling: workgroup (gx, gy, gz) owns input channel gx*local_size + l in lane l, output
// channels gy*8 .. gy*8+7, and split gz. The 8 channels x 9 taps of a lane are 18 named vec4
// (a: channels 0-3, b: 4-7): lavapipe keeps arrays it cannot fully unroll in memory.
#include "common.glsl"
#include "conv2d.glsl"

layout(binding = 0) uniform samplerBuffer x4;   // x as vec4 texels
layout(binding = 1) uniform samplerBuffer x1;   // x as f32 texels
layout(binding = 2) uniform samplerBuffer dy4;  // dy as vec4 texels
layout(std430, binding = 3) writeonly buffer Part { float part[]; };

const int CO = 8;  // output channels per workgroup (fixed: the accumulators are spelled out)

void main() {
  int lane = int(gl_LocalInvocationID.x);
  int split = int(gl_WorkGroupID.z);
  int m0 = int(gl_WorkGroupID.y) * CO;
  int h = pc.in_h, w = pc.in_w, hw = h * w;  // stride 1: dy has the same size
  int ci = int(gl_WorkGroupID.x) * int(gl_WorkGroupSize.x) + lane;
  bool live = ci < pc.in_channels;
  int x_chan = min(ci, pc.in_channels - 1) * hw;
  int rows = pc.batch * h;
  int row_begin = split * pc.split_pixels;
  int row_end = min(row_begin + pc.split_pixels, rows);

  // a<ky><kx> / b<ky><kx>: tap (ky, kx) of output channels m0 .. m0+3 / m0+4 .. m0+7.
  vec4 a00 = vec4(0), a01 = vec4(0), a02 = vec4(0);
  vec4 a10 = vec4(0), a11 = vec4(0), a12 = vec4(0);
  vec4 a20 = vec4(0), a21 = vec4(0), a22 = vec4(0);
  vec4 b00 = vec4(0), b01 = vec4(0), b02 = vec4(0);
  vec4 b10 = vec4(0), b11 = vec4(0), b12 = vec4(0);
  vec4 b20 = vec4(0), b21 = vec4(0), b22 = vec4(0);

  int img = row_begin / h, oy = row_begin - img * h;
  for (int row = row_begin; row < row_end; ++row) {
    int dy_row = img * pc.out_batch_stride + m0 * hw + oy * w;
    int x_img = img * pc.in_batch_stride + x_chan;
    for (int x0 = 0; x0 < w; x0 += 8) {
      // The 8 output channels' dy over these 8 pixels; rows past out_channels read a valid
      // (clamped) row and are never stored.
      int d0 = (dy_row + min(0, pc.out_channels - 1 - m0) * hw + x0) >> 2;
      int d1 = (dy_row + min(1, pc.out_channels - 1 - m0) * hw + x0) >> 2;
      int d2 = (dy_row + min(2, pc.out_channels - 1 - m0) * hw + x0) >> 2;
      int d3 = (dy_row + min(3, pc.out_channels - 1 - m0) * hw + x0) >> 2;
      vec4 p0 = texelFetch(dy4, d0), q0 = texelFetch(dy4, d0 + 1);
      vec4 p1 = texelFetch(dy4, d1), q1 = texelFetch(dy4, d1 + 1);
      vec4 p2 = texelFetch(dy4, d2), q2 = texelFetch(dy4, d2 + 1);
      vec4 p3 = texelFetch(dy4, d3), q3 = texelFetch(dy4, d3 + 1);
      int d4 = (dy_row + min(4, pc.out_channels - 1 - m0) * hw + x0) >> 2;
      int d5 = (dy_row + min(5, pc.out_channels - 1 - m0) * hw + x0) >> 2;
      int d6 = (dy_row + min(6, pc.out_channels - 1 - m0) * hw + x0) >> 2;
      int d7 = (dy_row + min(7, pc.out_channels - 1 - m0) * hw + x0) >> 2;
      vec4 p4 = texelFetch(dy4, d4), q4 = texelFetch(dy4, d4 + 1);
      vec4 p5 = texelFetch(dy4, d5), q5 = texelFetch(dy4, d5 + 1);
      vec4 p6 = texelFetch(dy4, d6), q6 = texelFetch(dy4, d6 + 1);
      vec4 p7 = texelFetch(dy4, d7), q7 = texelFetch(dy4, d7 + 1);
      // One kernel row: x row oy-1+ky as two vec4 plus its two neighbours, shifted into the
      // windows of taps kx = 0, 1, 2; each tap's 8 channel sums go into t (channels 0-3), u (4-7).
#define KERNEL_ROW(ky, t0, t1, t2, u0, u1, u2)                                                                  \
      {                                                                                            \
        int iy;                                                                                    \
        bool row_ok = conv_tap_forward(oy, ky, h, iy);                                             \
        int x_row = row_ok ? x_img + iy * w : 0;                                                   \
        vec4 mid_a = texelFetch(x4, (x_row + x0) >> 2);                                            \
        vec4 mid_b = texelFetch(x4, ((x_row + x0) >> 2) + 1);                                      \
        float left = texelFetch(x1, x_row + (x0 == 0 ? w - 1 : x0 - 1)).r;                          \
        float right = texelFetch(x1, x_row + (x0 + 8 == w ? 0 : x0 + 8)).r;                         \
        mid_a = row_ok ? mid_a : vec4(0);                                                          \
        mid_b = row_ok ? mid_b : vec4(0);                                                          \
        left = row_ok && (CIRCULAR != 0 || x0 > 0) ? left : 0.0;                                   \
        right = row_ok && (CIRCULAR != 0 || x0 + 8 < w) ? right : 0.0;                             \
        vec4 minus_a = vec4(left, mid_a.xyz), minus_b = vec4(mid_a.w, mid_b.xyz);                  \
        vec4 plus_a = vec4(mid_a.yzw, mid_b.x), plus_b = vec4(mid_b.yzw, right);                   \
        t0 += vec4(dot(p0, minus_a) + dot(q0, minus_b), dot(p1, minus_a) + dot(q1, minus_b),        \
                   dot(p2, minus_a) + dot(q2, minus_b), dot(p3, minus_a) + dot(q3, minus_b));       \
        t1 += vec4(dot(p0, mid_a) + dot(q0, mid_b), dot(p1, mid_a) + dot(q1, mid_b),                \
                   dot(p2, mid_a) + dot(q2, mid_b), dot(p3, mid_a) + dot(q3, mid_b));               \
        t2 += vec4(dot(p0, plus_a) + dot(q0, plus_b), dot(p1, plus_a) + dot(q1, plus_b),            \
                   dot(p2, plus_a) + dot(q2, plus_b), dot(p3, plus_a) + dot(q3, plus_b));           \
        u0 += vec4(dot(p4, minus_a) + dot(q4, minus_b), dot(p5, minus_a) + dot(q5, minus_b),        \
                   dot(p6, minus_a) + dot(q6, minus_b), dot(p7, minus_a) + dot(q7, minus_b));       \
        u1 += vec4(dot(p4, mid_a) + dot(q4, mid_b), dot(p5, mid_a) + dot(q5, mid_b),                \
                   dot(p6, mid_a) + dot(q6, mid_b), dot(p7, mid_a) + dot(q7, mid_b));               \
        u2 += vec4(dot(p4, plus_a) + dot(q4, plus_b), dot(p5, plus_a) + dot(q5, plus_b),            \
                   dot(p6, plus_a) + dot(q6, plus_b), dot(p7, plus_a) + dot(q7, plus_b));           \
      }
      KERNEL_ROW(0, a00, a01, a02, b00, b01, b02)
      KERNEL_ROW(1, a10, a11, a12, b10, b11, b12)
      KERNEL_ROW(2, a20, a21, a22, b20, b21, b22)
#undef KERNEL_ROW
    }
    if (++oy == h) {
      oy = 0;
      ++img;
    }
  }

  if (!live) return;
  vec4 acc[18] = vec4[18](a00, a01, a02, a10, a11, a12, a20, a21, a22, b00, b01, b02, b10, b11, b12, b20, b21, b22);
  int slice = split * pc.out_channels * pc.in_channels * 9;
  for (int r = 0; r < CO; ++r) {
    int m = m0 + r;
    if (m >= pc.out_channels) break;
    for (int tap = 0; tap < 9; ++tap) part[slice + (m * pc.in_channels + ci) * 9 + tap] = acc[tap + (r / 4) * 9][r % 4];
  }
}
