#version 450
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
// TexelFetch variant (fast on lavapipe) of the conv2d forward pass and of its gradient
// w.r.t. the input, as an implicit GEMM without shared memory or barriers:
//   forward    (TRANSPOSED = 0): y[n,m,p]  = sum_{c,tap} w[m,c,tap] * x[n,c,in(p,tap)]  (+ bias[m])
//   transposed (TRANSPOSED = 1): dx[n,m,p] = sum_{c,tap} w[c,m,tap] * dy[n,c,out(p,tap)] (+= dx)
// m is the written channel, c the summed one, p a pixel of the written tensor.
//
// Tiling: a workgroup owns ROWS channels (m0 .. m0+ROWS-1) and local_size * COLS pixels of the
// flattened (n, y, x) index; lane l holds pixels base + l + c*local_size (c < COLS), so each
// gather of the source reads consecutive addresses across lanes. The sum runs tap by tap (the
// source offsets of a tap are computed once) and over summed channels in blocks of 8: lane l
// fetches the weights of channel c0 + (l & 7) for its ROWS rows, and subgroupBroadcast hands
// them to every lane, so one texel fetch feeds 8 channels. Lavapipe runs texel fetches as
// vector gathers and broadcasts as register shuffles, while its shared-memory loads run lane
// by lane (SPEC §10). Needs a subgroup of at least 8 lanes; the host uses the SharedTiles
// kernel else.
#include "common.glsl"
#include "conv2d.glsl"
#include "portable_math.glsl"

// PORTABLE=1 (kernel conv2d_implicit_texel_fetch_portable): docs/portable.md's conv2d, whose
// order (ky, kx, then channel ascending) is this kernel's loop order; only the arithmetic
// changes (flushed add/mul instead of fma).
layout(constant_id = 6) const int TRANSPOSED = 0;
const int ROWS = 8;  // written channels per lane
const int COLS = 4;  // pixels per lane

layout(binding = 0) uniform samplerBuffer src;     // x (forward) or dy (transposed)
layout(binding = 1) uniform samplerBuffer weight;  // [Co, Ci, KSIZE, KSIZE]
layout(binding = 2) uniform samplerBuffer bias;    // [Co]; any tensor when flags lacks kConvBias
layout(std430, binding = 3) buffer Dst { float dst[]; };

const int BLOCK = 8;

void main() {
  const bool transposed = TRANSPOSED != 0;
  int lane = int(gl_LocalInvocationID.x);
  int wg = int(gl_WorkGroupSize.x);
  int sub = int(gl_SubgroupInvocationID) & (BLOCK - 1);

  int m_count = transposed ? pc.in_channels : pc.out_channels;
  int red = transposed ? pc.out_channels : pc.in_channels;
  int dst_h = transposed ? pc.in_h : pc.out_h, dst_w = transposed ? pc.in_w : pc.out_w;
  int src_h = transposed ? pc.out_h : pc.in_h, src_w = transposed ? pc.out_w : pc.in_w;
  int dst_bs = transposed ? pc.in_batch_stride : pc.out_batch_stride;
  int src_bs = transposed ? pc.out_batch_stride : pc.in_batch_stride;
  int dst_hw = dst_h * dst_w, src_hw = src_h * src_w;
  int total = pc.batch * dst_hw;
  int m0 = int(gl_WorkGroupID.y) * ROWS;
  // Weight element (m, c, tap): forward w[m][c][tap], transposed w[c][m][tap].
  int w_m_stride = transposed ? TAPS : red * TAPS;
  int w_c_stride = transposed ? m_count * TAPS : TAPS;

  // The data gradient of a stride-2 conv reaches a pixel only through the taps whose parity
  // matches the pixel's (1, 2 or 4 of the 9 for 3x3). Workgroup z picks one parity class
  // (py % 2, px % 2) of the written pixels, so every lane of the workgroup skips the same taps.
  const bool parity_split = transposed && STRIDE == 2;
  int par_y = 0, par_x = 0, grid_h = dst_h, grid_w = dst_w;
  if (parity_split) {
    par_y = int(gl_WorkGroupID.z) >> 1;
    par_x = int(gl_WorkGroupID.z) & 1;
    grid_h = (dst_h - par_y + 1) / 2;
    grid_w = (dst_w - par_x + 1) / 2;
    total = pc.batch * grid_h * grid_w;
    if (total == 0) return;  // a 1-pixel side has no odd class (the whole workgroup returns)
  }
  int grid_hw = grid_h * grid_w;

  int img[COLS], py[COLS], px[COLS];
  bool live[COLS];
  int base = int(gl_WorkGroupID.x) * wg * COLS + lane;
  for (int c = 0; c < COLS; ++c) {
    int q = base + c * wg;
    live[c] = q < total;
    q = max(min(q, total - 1), 0);
    img[c] = q / grid_hw;
    int r = q - img[c] * grid_hw;
    py[c] = r / grid_w;
    px[c] = r - py[c] * grid_w;
    if (parity_split) {
      py[c] = 2 * py[c] + par_y;
      px[c] = 2 * px[c] + par_x;
    }
  }

  // The register tile is spelled out (8 rows of vec4 = 4 pixels) rather than left to loops over
  // arrays: lavapipe keeps arrays it cannot fully unroll in memory, which costs 3x here.
  vec4 acc0 = vec4(0), acc1 = vec4(0), acc2 = vec4(0), acc3 = vec4(0);
  vec4 acc4 = vec4(0), acc5 = vec4(0), acc6 = vec4(0), acc7 = vec4(0);

  for (int ky = 0; ky < KSIZE; ++ky) {
    if (parity_split && ((par_y + PAD - ky) & 1) != 0) continue;  // uniform in the workgroup
    for (int kx = 0; kx < KSIZE; ++kx) {
      if (parity_split && ((par_x + PAD - kx) & 1) != 0) continue;
      int tap = ky * KSIZE + kx;
      ivec4 off;
      bvec4 ok;
      for (int c = 0; c < COLS; ++c) {
        int sy, sx;
        bool vy, vx;
        if (transposed) {
          vy = conv_tap_transposed(py[c], ky, dst_h, src_h, sy);
          vx = conv_tap_transposed(px[c], kx, dst_w, src_w, sx);
        } else {
          vy = conv_tap_forward(py[c], ky, src_h, sy);
          vx = conv_tap_forward(px[c], kx, src_w, sx);
        }
        ok[c] = vy && vx;
        off[c] = ok[c] ? img[c] * src_bs + sy * src_w + sx : 0;
      }
      vec4 keep = vec4(ok);
      int w_base = m0 * w_m_stride + tap;
      for (int c0 = 0; c0 < red; c0 += BLOCK) {
        int my_c = c0 + sub;
        // Weights of rows m0..m0+7 for channel c0 + (lane & 7); zero past the ends.
        int wi = w_base + my_c * w_c_stride;
        bool cv = my_c < red;
#if PORTABLE
#define LOAD_W(name, row) float name = (cv && m0 + row < m_count) ? pm_flush(texelFetch(weight, wi + row * w_m_stride).r) : 0.0;
#else
#define LOAD_W(name, row) float name = (cv && m0 + row < m_count) ? texelFetch(weight, wi + row * w_m_stride).r : 0.0;
#endif
        LOAD_W(a0, 0) LOAD_W(a1, 1) LOAD_W(a2, 2) LOAD_W(a3, 3) LOAD_W(a4, 4) LOAD_W(a5, 5) LOAD_W(a6, 6) LOAD_W(a7, 7)
#undef LOAD_W
        // Channels past `red` have zero weights; their fetches are clamped to a valid channel.
#if PORTABLE
#define ROW(acc, a, lane) acc = pm_acc4(acc, vec4(subgroupBroadcast(a, lane)), b);
#else
#define ROW(acc, a, lane) acc = fma(vec4(subgroupBroadcast(a, lane)), b, acc);
#endif
#define CONV_STEP(j)                                                              \
        {                                                                         \
          int cc = min(c0 + j, red - 1) * src_hw;                                 \
          vec4 b = vec4(texelFetch(src, off.x + cc).r, texelFetch(src, off.y + cc).r, \
                        texelFetch(src, off.z + cc).r, texelFetch(src, off.w + cc).r) * keep; \
          if (PORTABLE != 0) b = pm_flush4(b);                                    \
          ROW(acc0, a0, j) ROW(acc1, a1, j) ROW(acc2, a2, j) ROW(acc3, a3, j)                 \
          ROW(acc4, a4, j) ROW(acc5, a5, j) ROW(acc6, a6, j) ROW(acc7, a7, j)                 \
        }
        CONV_STEP(0) CONV_STEP(1) CONV_STEP(2) CONV_STEP(3)
        CONV_STEP(4) CONV_STEP(5) CONV_STEP(6) CONV_STEP(7)
#undef CONV_STEP
#undef ROW
      }
    }
  }

  vec4 acc[8] = vec4[8](acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7);
  for (int c = 0; c < COLS; ++c) {
    if (!live[c]) continue;
    int pix = img[c] * dst_bs + py[c] * dst_w + px[c];
    for (int r = 0; r < ROWS; ++r) {
      int m = m0 + r;
      if (m >= m_count) break;
      int i = pix + m * dst_hw;
      float v = acc[r][c];
#if PORTABLE
      if ((pc.flags & kConvBias) != 0) v = pm_add(v, pm_flush(texelFetch(bias, m).r));
      if ((pc.flags & kConvAccumulate) != 0) v = pm_add(v, pm_flush(dst[i]));
#else
      if ((pc.flags & kConvBias) != 0) v += texelFetch(bias, m).r;
      if ((pc.flags & kConvAccumulate) != 0) v += dst[i];
#endif
      dst[i] = v;
    }
  }
}
