#version 450
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
// Cpu variant (lavapipe), stride-1 fast path of the conv2d forward pass and its gradient
// w.r.t. the input, for maps whose width is a multiple of 4:
//   forward    (TRANSPOSED = 0): y[n,m,y,x]  = sum_{c,ky,kx} w[m,c,ky,kx] * x[n,c,y-P+ky,x-P+kx] (+ bias[m])
//   transposed (TRANSPOSED = 1): dx[n,m,y,x] = sum_{c,ky,kx} w[c,m,ky,kx] * dy[n,c,y+P-ky,x+P-kx] (+= dx)
// (P = KSIZE/2, coordinates wrapped (circular) or zero outside). With stride 1 the source and
// destination maps have the same size.
//
// Tiling: lane l of workgroup (gx, gy) owns 8 horizontally adjacent pixels (x0 .. x0+7, x0 a
// multiple of 8) of run gx*local_size + l, for the 4 channels gy*4 .. gy*4+3. For each kernel
// row and summed channel it reads the source row as two aligned vec4 texel fetches (x0 .. x0+7)
// plus two scalar fetches (x0-1 and x0+8) and builds the three horizontally shifted windows of
// the 3 taps from those 10 values in registers: lavapipe vectorizes each texel fetch, so this
// replaces 24 gathers by 4. Weights for 8 summed channels are fetched one per lane and shared
// with subgroupBroadcast; each broadcast feeds 8 multiply-adds. No shared memory, no barriers
// (SPEC §10). Measured on lavapipe, loads and broadcasts cost ~3x the arithmetic, hence this
// shape: 4 rows x 8 pixels keeps 32 accumulators in registers and halves broadcasts and weight
// fetches per flop against 8 rows x 4 pixels.
#include "common.glsl"
#include "conv2d.glsl"

layout(constant_id = 6) const int TRANSPOSED = 0;

layout(binding = 0) uniform samplerBuffer src4;    // the source (x or dy) as vec4 texels
layout(binding = 1) uniform samplerBuffer src1;    // the same source as f32 texels
layout(binding = 2) uniform samplerBuffer weight;  // [Co, Ci, KSIZE, KSIZE]
layout(binding = 3) uniform samplerBuffer bias;    // [Co]; any tensor when flags lacks BIAS
layout(std430, binding = 4) buffer Dst { float dst[]; };

layout(push_constant) uniform Push {
  int batch;
  int in_channels, in_h, in_w;
  int out_channels, out_h, out_w;
  int in_batch_stride, out_batch_stride;
  int flags;  // 1: add into dst, 2: add bias
  int split_pixels;
} pc;

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
  int total = pc.batch * h * quads_per_row;
  int m0 = int(gl_WorkGroupID.y) * 4;
  int w_m_stride = transposed ? TAPS : red * TAPS;
  int w_c_stride = transposed ? m_count * TAPS : TAPS;

  int q = int(gl_WorkGroupID.x) * int(gl_WorkGroupSize.x) + lane;
  bool live = q < total;
  q = min(q, total - 1);
  int img = q / (h * quads_per_row);
  int rq = q - img * h * quads_per_row;
  int y = rq / quads_per_row;
  int x0 = (rq - y * quads_per_row) * 8;

  // Horizontal neighbours of the quad: wrapped (circular) or zero (off the map).
  int left_x = x0 == 0 ? w - 1 : x0 - 1;
  int right_x = x0 + 8 == w ? 0 : x0 + 8;
  bool left_ok = CIRCULAR != 0 || x0 > 0;
  bool right_ok = CIRCULAR != 0 || x0 + 8 < w;

  // acc<row><a|b>: pixels x0..x0+3 and x0+4..x0+7 of row m0+row.
  vec4 acc0a = vec4(0), acc1a = vec4(0), acc2a = vec4(0), acc3a = vec4(0);
  vec4 acc0b = vec4(0), acc1b = vec4(0), acc2b = vec4(0), acc3b = vec4(0);

  for (int ky = 0; ky < KSIZE; ++ky) {
    int sy = transposed ? y + PAD - ky : y - PAD + ky;
    bool row_ok = true;
    if (CIRCULAR != 0) {
      sy += sy < 0 ? h : 0;
      sy -= sy >= h ? h : 0;
    } else {
      row_ok = sy >= 0 && sy < h;
    }
    int row_base = row_ok ? img * src_bs + sy * w : 0;
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
#define ROW(acc_a, acc_b, a, lane, win_a, win_b) \
      {                                          \
        vec4 s = vec4(subgroupBroadcast(a, lane)); \
        acc_a = fma(s, win_a, acc_a);            \
        acc_b = fma(s, win_b, acc_b);            \
      }
#define ROWS4(j, win_a, win_b, n0, n1, n2, n3)                                        \
      ROW(acc0a, acc0b, n0, j, win_a, win_b) ROW(acc1a, acc1b, n1, j, win_a, win_b) \
      ROW(acc2a, acc2b, n2, j, win_a, win_b) ROW(acc3a, acc3b, n3, j, win_a, win_b)
#define CONV_STEP(j)                                                                         \
      {                                                                                      \
        int base = row_base + min(c0 + j, red - 1) * hw;                                     \
        vec4 mid_a = texelFetch(src4, (base + x0) >> 2);                                     \
        vec4 mid_b = texelFetch(src4, ((base + x0) >> 2) + 1);                               \
        mid_a = row_ok ? mid_a : vec4(0);                                                    \
        mid_b = row_ok ? mid_b : vec4(0);                                                    \
        if (KSIZE == 1) {                                                                    \
          ROWS4(j, mid_a, mid_b, a00, a01, a02, a03)                                         \
        } else {                                                                             \
          float left = texelFetch(src1, base + left_x).r;                                    \
          float right = texelFetch(src1, base + right_x).r;                                  \
          left = row_ok && left_ok ? left : 0.0;                                             \
          right = row_ok && right_ok ? right : 0.0;                                          \
          /* source x - 1 and source x + 1 for the 8 pixels */                               \
          vec4 minus_a = vec4(left, mid_a.xyz), minus_b = vec4(mid_a.w, mid_b.xyz);          \
          vec4 plus_a = vec4(mid_a.yzw, mid_b.x), plus_b = vec4(mid_b.yzw, right);           \
          if (transposed) {                                                                  \
            ROWS4(j, plus_a, plus_b, a00, a01, a02, a03)                                     \
            ROWS4(j, minus_a, minus_b, a20, a21, a22, a23)                                   \
          } else {                                                                           \
            ROWS4(j, minus_a, minus_b, a00, a01, a02, a03)                                   \
            ROWS4(j, plus_a, plus_b, a20, a21, a22, a23)                                     \
          }                                                                                  \
          ROWS4(j, mid_a, mid_b, a10, a11, a12, a13)                                         \
        }                                                                                    \
      }
      CONV_STEP(0) CONV_STEP(1) CONV_STEP(2) CONV_STEP(3)
      CONV_STEP(4) CONV_STEP(5) CONV_STEP(6) CONV_STEP(7)
#undef CONV_STEP
#undef ROWS4
#undef ROW
    }
  }

  if (!live) return;
  vec4 acc_a[4] = vec4[4](acc0a, acc1a, acc2a, acc3a);
  vec4 acc_b[4] = vec4[4](acc0b, acc1b, acc2b, acc3b);
  int pix = img * dst_bs + y * w + x0;
  for (int r = 0; r < 4; ++r) {
    int m = m0 + r;
    if (m >= m_count) break;
    int i = pix + m * hw;
    for (int part = 0; part < 2; ++part, i += 4) {
      vec4 v = part == 0 ? acc_a[r] : acc_b[r];
      if ((pc.flags & 2) != 0) v += vec4(texelFetch(bias, m).r);
      if ((pc.flags & 1) != 0) v += vec4(dst[i], dst[i + 1], dst[i + 2], dst[i + 3]);
      dst[i] = v.x;
      dst[i + 1] = v.y;
      dst[i + 2] = v.z;
      dst[i + 3] = v.w;
    }
  }
}
