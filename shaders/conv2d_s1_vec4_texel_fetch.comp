#version 450
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
// TexelFetch variant (fast on lavapipe), stride-1 fast path of the conv2d forward pass and
// its gradient w.r.t. the input, for maps whose width is a multiple of 4:
//   forward    (TRANSPOSED = 0): y[n,m,y,x]  = sum_{c,ky,kx} w[m,c,ky,kx] * x[n,c,y-P+ky,x-P+kx] (+ bias[m])
//   transposed (TRANSPOSED = 1): dx[n,m,y,x] = sum_{c,ky,kx} w[c,m,ky,kx] * dy[n,c,y+P-ky,x+P-kx] (+= dx)
// (P = KSIZE/2, coordinates wrapped (circular) or zero outside). With stride 1 the source and
// destination maps have the same size.
//
// Tiling: lane l of workgroup (gx, gy) owns 8 horizontally adjacent pixels (x0 .. x0+7, x0 a
// multiple of 8) of run gx*local_size + l (times PIXEL_ROWS rows), for the 4 channels gy*4 .. gy*4+3. For each kernel
// row and summed channel it reads the source row as two aligned vec4 texel fetches (x0 .. x0+7)
// plus two scalar fetches (x0-1 and x0+8) and builds the three horizontally shifted windows of
// the 3 taps from those 10 values in registers: lavapipe vectorizes each texel fetch, so this
// replaces 24 gathers by 4. Weights for 8 summed channels are fetched one per lane and shared
// with subgroupBroadcast; each broadcast feeds 8 multiply-adds. No shared memory, no barriers
// (SPEC §10). Measured on lavapipe, loads and broadcasts cost ~3x the arithmetic, hence this
// shape: 4 rows x 8 pixels keeps 32 accumulators in registers and halves broadcasts and weight
// fetches per flop against 8 rows x 4 pixels. With PIXEL_ROWS = 2 (even heights) a lane also
// owns the same 8 pixels of the next row, so each broadcast feeds 16 multiply-adds: measured
// 1.1-1.3x the GFLOP per CPU-second of one row (batch 8, 64-256 channels).
#include "common.glsl"
#include "conv2d.glsl"

layout(constant_id = 6) const int TRANSPOSED = 0;
// 2: a lane owns the same 8 pixels in two adjacent rows (y, y+1; even heights), so each weight
// broadcast feeds 16 multiply-adds instead of 8.
layout(constant_id = 7) const int PIXEL_ROWS = 1;

layout(binding = 0) uniform samplerBuffer src4;    // the source (x or dy) as vec4 texels
layout(binding = 1) uniform samplerBuffer src1;    // the same source as f32 texels
layout(binding = 2) uniform samplerBuffer weight;  // [Co, Ci, KSIZE, KSIZE]
layout(binding = 3) uniform samplerBuffer bias;    // [Co]; any tensor when flags lacks kConvBias
layout(std430, binding = 4) buffer Dst { float dst[]; };

const int BLOCK = 8;

void main() {
  const bool transposed = TRANSPOSED != 0;
  int lane = int(gl_LocalInvocationID.x);
  int sub = int(gl_SubgroupInvocationID) & (BLOCK - 1);
  int m_count = transposed ? pc.in_channels : pc.out_channels;
  int red = transposed ? pc.out_channels : pc.in_channels;
  int h = pc.in_h, w = pc.in_w;  // same for source and destination at stride 1
  int hw = h * w, quads_per_row = w / 8;
  int dst_bs = transposed ? pc.in_batch_stride : pc.out_batch_stride;
  int src_bs = transposed ? pc.out_batch_stride : pc.in_batch_stride;
  int tile_rows = h / PIXEL_ROWS;
  int total = pc.batch * tile_rows * quads_per_row;
  int m0 = int(gl_WorkGroupID.y) * 4;
  int w_m_stride = transposed ? TAPS : red * TAPS;
  int w_c_stride = transposed ? m_count * TAPS : TAPS;

  int q = int(gl_WorkGroupID.x) * int(gl_WorkGroupSize.x) + lane;
  bool live = q < total;
  q = min(q, total - 1);
  int img = q / (tile_rows * quads_per_row);
  int rq = q - img * tile_rows * quads_per_row;
  int tile_y = rq / quads_per_row;
  int y = tile_y * PIXEL_ROWS;
  int x0 = (rq - tile_y * quads_per_row) * 8;

  // Horizontal neighbours of the quad: wrapped (circular) or zero (off the map).
  int left_x = x0 == 0 ? w - 1 : x0 - 1;
  int right_x = x0 + 8 == w ? 0 : x0 + 8;
  bool left_ok = CIRCULAR != 0 || x0 > 0;
  bool right_ok = CIRCULAR != 0 || x0 + 8 < w;

  // acc<row><a|b>: pixels x0..x0+3 and x0+4..x0+7 of row m0+row.
  vec4 acc0a = vec4(0), acc1a = vec4(0), acc2a = vec4(0), acc3a = vec4(0);
  vec4 acc0b = vec4(0), acc1b = vec4(0), acc2b = vec4(0), acc3b = vec4(0);
  // acc<row><c|d>: the same for pixel row y+1 (PIXEL_ROWS = 2).
  vec4 acc0c = vec4(0), acc1c = vec4(0), acc2c = vec4(0), acc3c = vec4(0);
  vec4 acc0d = vec4(0), acc1d = vec4(0), acc2d = vec4(0), acc3d = vec4(0);

  for (int ky = 0; ky < KSIZE; ++ky) {
    // Source rows of pixel rows y and y+1 for kernel row ky, wrapped or flagged as padding.
    int sy, sy2;
    bool row_ok = transposed ? conv_tap_transposed(y, ky, h, h, sy) : conv_tap_forward(y, ky, h, sy);
    bool row2_ok = transposed ? conv_tap_transposed(y + 1, ky, h, h, sy2) : conv_tap_forward(y + 1, ky, h, sy2);
    int row_base = row_ok ? img * src_bs + sy * w : 0;
    int row2_base = row2_ok ? img * src_bs + sy2 * w : 0;
    int w_row = m0 * w_m_stride + ky * KSIZE;
    for (int c0 = 0; c0 < red; c0 += BLOCK) {
      int my_c = c0 + sub;
      bool cv = my_c < red;
      int wi = w_row + my_c * w_c_stride;
      // a<kx><row>: weight of row m0+row, channel c0 + (lane & 7), tap (ky, kx); zero past the ends.
#define LOAD_W(name, row, kx) float name = (cv && kx < KSIZE && m0 + row < m_count) ? texelFetch(weight, wi + row * w_m_stride + kx).r : 0.0;
#define LOAD_TAP(kx, n0, n1, n2, n3) LOAD_W(n0, 0, kx) LOAD_W(n1, 1, kx) LOAD_W(n2, 2, kx) LOAD_W(n3, 3, kx)
      LOAD_TAP(0, a00, a01, a02, a03)
      LOAD_TAP(1, a10, a11, a12, a13)
      LOAD_TAP(2, a20, a21, a22, a23)
#undef LOAD_TAP
#undef LOAD_W
#define ROW(r, wt, lane, wa, wb, wc, wd)       \
      {                                          \
        vec4 s = vec4(subgroupBroadcast(wt, lane)); \
        acc##r##a = fma(s, wa, acc##r##a);       \
        acc##r##b = fma(s, wb, acc##r##b);       \
        if (PIXEL_ROWS == 2) {                   \
          acc##r##c = fma(s, wc, acc##r##c);     \
          acc##r##d = fma(s, wd, acc##r##d);     \
        }                                        \
      }
#define ROWS4(j, w, n0, n1, n2, n3)                                                   \
      ROW(0, n0, j, w##_a, w##_b, w##2_a, w##2_b) ROW(1, n1, j, w##_a, w##_b, w##2_a, w##2_b) \
      ROW(2, n2, j, w##_a, w##_b, w##2_a, w##2_b) ROW(3, n3, j, w##_a, w##_b, w##2_a, w##2_b)
      // The 8 source pixels of a row and their left/right neighbours as the windows of taps
      // kx = 0, 1, 2 (minus / mid / plus), from two vec4 and two scalar texel fetches.
#define WINDOWS(base, ok, minus_a, minus_b, mid_a, mid_b, plus_a, plus_b)               \
        vec4 mid_a = texelFetch(src4, ((base) + x0) >> 2);                              \
        vec4 mid_b = texelFetch(src4, (((base) + x0) >> 2) + 1);                        \
        mid_a = ok ? mid_a : vec4(0);                                                   \
        mid_b = ok ? mid_b : vec4(0);                                                   \
        vec4 minus_a = vec4(0), minus_b = vec4(0), plus_a = vec4(0), plus_b = vec4(0);  \
        if (KSIZE == 3) {                                                               \
          float left = texelFetch(src1, (base) + left_x).r;                             \
          float right = texelFetch(src1, (base) + right_x).r;                           \
          left = ok && left_ok ? left : 0.0;                                            \
          right = ok && right_ok ? right : 0.0;                                         \
          minus_a = vec4(left, mid_a.xyz);                                              \
          minus_b = vec4(mid_a.w, mid_b.xyz);                                           \
          plus_a = vec4(mid_a.yzw, mid_b.x);                                            \
          plus_b = vec4(mid_b.yzw, right);                                              \
        }
#define CONV_STEP(j)                                                                         \
      {                                                                                      \
        int cc = min(c0 + j, red - 1) * hw;                                                  \
        WINDOWS(row_base + cc, row_ok, minus_a, minus_b, mid_a, mid_b, plus_a, plus_b)       \
        vec4 minus2_a = vec4(0), minus2_b = vec4(0), mid2_a = vec4(0), mid2_b = vec4(0);     \
        vec4 plus2_a = vec4(0), plus2_b = vec4(0);                                           \
        if (PIXEL_ROWS == 2) {                                                               \
          WINDOWS(row2_base + cc, row2_ok, m2a, m2b, c2a, c2b, p2a, p2b)                     \
          minus2_a = m2a; minus2_b = m2b; mid2_a = c2a; mid2_b = c2b; plus2_a = p2a; plus2_b = p2b; \
        }                                                                                    \
        if (KSIZE == 1) {                                                                    \
          ROWS4(j, mid, a00, a01, a02, a03)                                                  \
        } else {                                                                             \
          /* source x - 1 and source x + 1 for the 8 pixels */                               \
          if (transposed) {                                                                  \
            ROWS4(j, plus, a00, a01, a02, a03)                                               \
            ROWS4(j, minus, a20, a21, a22, a23)                                              \
          } else {                                                                           \
            ROWS4(j, minus, a00, a01, a02, a03)                                              \
            ROWS4(j, plus, a20, a21, a22, a23)                                               \
          }                                                                                  \
          ROWS4(j, mid, a10, a11, a12, a13)                                                  \
        }                                                                                    \
      }
      CONV_STEP(0) CONV_STEP(1) CONV_STEP(2) CONV_STEP(3)
      CONV_STEP(4) CONV_STEP(5) CONV_STEP(6) CONV_STEP(7)
#undef CONV_STEP
#undef WINDOWS
#undef ROWS4
#undef ROW
    }
  }

  if (!live) return;
  vec4 acc_a[8] = vec4[8](acc0a, acc1a, acc2a, acc3a, acc0c, acc1c, acc2c, acc3c);
  vec4 acc_b[8] = vec4[8](acc0b, acc1b, acc2b, acc3b, acc0d, acc1d, acc2d, acc3d);
  for (int pr = 0; pr < PIXEL_ROWS; ++pr) {
    int pix = img * dst_bs + (y + pr) * w + x0;
    for (int r = 0; r < 4; ++r) {
      int m = m0 + r;
      if (m >= m_count) break;
      int i = pix + m * hw;
      for (int part = 0; part < 2; ++part, i += 4) {
        vec4 v = part == 0 ? acc_a[pr * 4 + r] : acc_b[pr * 4 + r];
        if ((pc.flags & kConvBias) != 0) v += vec4(texelFetch(bias, m).r);
        if ((pc.flags & kConvAccumulate) != 0) v += vec4(dst[i], dst[i + 1], dst[i + 2], dst[i + 3]);
        dst[i] = v.x;
        dst[i + 1] = v.y;
        dst[i + 2] = v.z;
        dst[i + 3] = v.w;
      }
    }
  }
}
