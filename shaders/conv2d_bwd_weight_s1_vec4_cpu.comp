#version 450
// Cpu variant (lavapipe), stride-1 fast path of the conv2d weight gradient for maps whose width
// is a multiple of 8; one split of a split-K sum over output rows (the host uses it for 1x1
// kernels: 3x3 ones take conv2d_bwd_weight_s1_k3_vec4_cpu, which keeps all rows in a lane):
//   part[s, co, ci, ky, kx] = sum_{(n, oy) in split s} sum_ox dy[n,co,oy,ox] * x[n,ci,oy-P+ky,ox-P+kx]
// (P = KSIZE/2; x wrapped (circular) or zero outside). conv2d_reduce_splits adds the splits in
// order; with one split the host binds dw itself as `part`.
//
// Tiling: workgroup (gx, gy, gz) owns input channel gx*local_size + l in lane l, output
// channels gy*8 .. gy*8+7 and kernel row ky = gz % KSIZE of split gz / KSIZE; a lane keeps the
// 8 x KSIZE sums of its channel in registers. Pixels go in runs of 8 along a row: the lane reads
// its x row as two aligned vec4 texel fetches plus the two neighbours and builds the KSIZE
// shifted windows in registers; the 8 dy rows are vec4 fetches at the same address in every
// lane. Each run costs 4 + 16 fetches for 192 multiply-adds, no subgroup operations, no shared
// memory (SPEC §10: lavapipe vectorizes texel fetches but not shared or storage loads).
#include "common.glsl"
#include "conv2d.glsl"

layout(binding = 0) uniform samplerBuffer x4;   // x as vec4 texels
layout(binding = 1) uniform samplerBuffer x1;   // x as f32 texels
layout(binding = 2) uniform samplerBuffer dy4;  // dy as vec4 texels
layout(std430, binding = 3) writeonly buffer Part { float part[]; };

layout(push_constant) uniform Push {
  int batch;
  int in_channels, in_h, in_w;
  int out_channels, out_h, out_w;
  int in_batch_stride, out_batch_stride;
  int flags;
  int split_pixels;  // here: output rows (n, oy) per split
} pc;

void main() {
  int lane = int(gl_LocalInvocationID.x);
  int ky = int(gl_WorkGroupID.z) % KSIZE;
  int split = int(gl_WorkGroupID.z) / KSIZE;
  int m0 = int(gl_WorkGroupID.y) * 8;
  int h = pc.in_h, w = pc.in_w, hw = h * w;  // stride 1: dy has the same size
  int ci = int(gl_WorkGroupID.x) * int(gl_WorkGroupSize.x) + lane;
  bool live = ci < pc.in_channels;
  int x_chan = min(ci, pc.in_channels - 1) * hw;
  int rows = pc.batch * h;
  int row_begin = split * pc.split_pixels;
  int row_end = min(row_begin + pc.split_pixels, rows);

  // acc<kx><r>: tap (ky, kx), output channel m0 + r.
  float acc00 = 0, acc01 = 0, acc02 = 0, acc03 = 0, acc04 = 0, acc05 = 0, acc06 = 0, acc07 = 0;
  float acc10 = 0, acc11 = 0, acc12 = 0, acc13 = 0, acc14 = 0, acc15 = 0, acc16 = 0, acc17 = 0;
  float acc20 = 0, acc21 = 0, acc22 = 0, acc23 = 0, acc24 = 0, acc25 = 0, acc26 = 0, acc27 = 0;

  int img = row_begin / h, oy = row_begin - img * h;
  for (int row = row_begin; row < row_end; ++row) {
    int iy = oy - PAD + ky;
    bool row_ok = true;
    if (CIRCULAR != 0) {
      iy += iy < 0 ? h : 0;
      iy -= iy >= h ? h : 0;
    } else {
      row_ok = iy >= 0 && iy < h;
    }
    int x_row = row_ok ? img * pc.in_batch_stride + x_chan + iy * w : 0;
    int dy_row = img * pc.out_batch_stride + m0 * hw + oy * w;
    for (int x0 = 0; x0 < w; x0 += 8) {
      vec4 mid_a = texelFetch(x4, (x_row + x0) >> 2);
      vec4 mid_b = texelFetch(x4, ((x_row + x0) >> 2) + 1);
      mid_a = row_ok ? mid_a : vec4(0);
      mid_b = row_ok ? mid_b : vec4(0);
      vec4 minus_a = vec4(0), minus_b = vec4(0), plus_a = vec4(0), plus_b = vec4(0);
      if (KSIZE == 3) {
        float left = texelFetch(x1, x_row + (x0 == 0 ? w - 1 : x0 - 1)).r;
        float right = texelFetch(x1, x_row + (x0 + 8 == w ? 0 : x0 + 8)).r;
        left = row_ok && (CIRCULAR != 0 || x0 > 0) ? left : 0.0;
        right = row_ok && (CIRCULAR != 0 || x0 + 8 < w) ? right : 0.0;
        minus_a = vec4(left, mid_a.xyz);  // x at ox - 1: tap kx = 0
        minus_b = vec4(mid_a.w, mid_b.xyz);
        plus_a = vec4(mid_a.yzw, mid_b.x);  // x at ox + 1: tap kx = 2
        plus_b = vec4(mid_b.yzw, right);
      }
      // Rows past out_channels read a valid row (clamped) and are never stored.
#define DY_ROW(r, a0, a1, a2)                                                      \
      {                                                                            \
        int d = (dy_row + min(r, pc.out_channels - 1 - m0) * hw + x0) >> 2;        \
        vec4 da = texelFetch(dy4, d), db = texelFetch(dy4, d + 1);                 \
        if (KSIZE == 3) {                                                          \
          a0 += dot(da, minus_a) + dot(db, minus_b);                               \
          a1 += dot(da, mid_a) + dot(db, mid_b);                                   \
          a2 += dot(da, plus_a) + dot(db, plus_b);                                 \
        } else {                                                                   \
          a0 += dot(da, mid_a) + dot(db, mid_b);                                   \
        }                                                                          \
      }
      DY_ROW(0, acc00, acc10, acc20) DY_ROW(1, acc01, acc11, acc21)
      DY_ROW(2, acc02, acc12, acc22) DY_ROW(3, acc03, acc13, acc23)
      DY_ROW(4, acc04, acc14, acc24) DY_ROW(5, acc05, acc15, acc25)
      DY_ROW(6, acc06, acc16, acc26) DY_ROW(7, acc07, acc17, acc27)
#undef DY_ROW
    }
    if (++oy == h) {
      oy = 0;
      ++img;
    }
  }

  if (!live) return;
  float acc[3][8] = float[3][8](float[8](acc00, acc01, acc02, acc03, acc04, acc05, acc06, acc07),
                                float[8](acc10, acc11, acc12, acc13, acc14, acc15, acc16, acc17),
                                float[8](acc20, acc21, acc22, acc23, acc24, acc25, acc26, acc27));
  int slice = split * pc.out_channels * pc.in_channels * TAPS;
  for (int r = 0; r < 8; ++r) {
    int m = m0 + r;
    if (m >= pc.out_channels) break;
    for (int kx = 0; kx < KSIZE; ++kx) part[slice + ((m * pc.in_channels + ci) * KSIZE + ky) * KSIZE + kx] = acc[kx][r];
  }
}
