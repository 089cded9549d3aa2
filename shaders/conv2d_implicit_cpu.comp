#version 450
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
// Cpu variant (lavapipe) of the conv2d forward pass and of its gradient w.r.t. the input,
// as an implicit GEMM without shared memory or barriers:
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
// by lane (SPEC §10). Needs a subgroup of at least 8 lanes; the host uses the Gpu kernel else.
#include "common.glsl"
#include "conv2d.glsl"

layout(constant_id = 6) const int TRANSPOSED = 0;
layout(constant_id = 7) const int ROWS = 8;  // written channels per lane
layout(constant_id = 8) const int COLS = 2;  // pixels per lane

layout(binding = 0) uniform samplerBuffer src;     // x (forward) or dy (transposed)
layout(binding = 1) uniform samplerBuffer weight;  // [Co, Ci, KSIZE, KSIZE]
layout(binding = 2) uniform samplerBuffer bias;    // [Co]; any tensor when flags lacks BIAS
layout(std430, binding = 3) buffer Dst { float dst[]; };

// Forward-conv semantics: "in" is x/dx, "out" is y/dy. Batch strides let x/y/dx/dy be
// channel views into a concat.
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

  int img[COLS], py[COLS], px[COLS];
  bool live[COLS];
  int base = int(gl_WorkGroupID.x) * wg * COLS + lane;
  for (int c = 0; c < COLS; ++c) {
    int q = base + c * wg;
    live[c] = q < total;
    q = min(q, total - 1);
    img[c] = q / dst_hw;
    int r = q - img[c] * dst_hw;
    py[c] = r / dst_w;
    px[c] = r - py[c] * dst_w;
  }

  float acc[ROWS][COLS];
  for (int r = 0; r < ROWS; ++r)
    for (int c = 0; c < COLS; ++c) acc[r][c] = 0.0;

  for (int ky = 0; ky < KSIZE; ++ky) {
    for (int kx = 0; kx < KSIZE; ++kx) {
      int tap = ky * KSIZE + kx;
      int off[COLS];
      bool ok[COLS];
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
      for (int c0 = 0; c0 < red; c0 += BLOCK) {
        int my_c = c0 + sub;
        float a[ROWS];
        for (int r = 0; r < ROWS; ++r) {
          bool wv = m0 + r < m_count && my_c < red;
          a[r] = texelFetch(weight, wv ? (m0 + r) * w_m_stride + my_c * w_c_stride + tap : 0).r;
          a[r] = wv ? a[r] : 0.0;
        }
        // Channels past `red` have zero weights; their fetches are clamped to a valid channel.
#define CONV_STEP(j)                                                              \
        {                                                                         \
          int cc = min(c0 + j, red - 1) * src_hw;                                 \
          float b[COLS];                                                          \
          for (int c = 0; c < COLS; ++c) {                                        \
            b[c] = texelFetch(src, off[c] + cc).r;                                \
            b[c] = ok[c] ? b[c] : 0.0;                                            \
          }                                                                       \
          for (int r = 0; r < ROWS; ++r) {                                        \
            float ar = subgroupBroadcast(a[r], j);                                \
            for (int c = 0; c < COLS; ++c) acc[r][c] = fma(ar, b[c], acc[r][c]);  \
          }                                                                       \
        }
        CONV_STEP(0) CONV_STEP(1) CONV_STEP(2) CONV_STEP(3)
        CONV_STEP(4) CONV_STEP(5) CONV_STEP(6) CONV_STEP(7)
#undef CONV_STEP
      }
    }
  }

  for (int c = 0; c < COLS; ++c) {
    if (!live[c]) continue;
    int pix = img[c] * dst_bs + py[c] * dst_w + px[c];
    for (int r = 0; r < ROWS; ++r) {
      int m = m0 + r;
      if (m >= m_count) break;
      int i = pix + m * dst_hw;
      float v = acc[r][c];
      if ((pc.flags & 2) != 0) v += texelFetch(bias, m).r;
      if ((pc.flags & 1) != 0) v += dst[i];
      dst[i] = v;
    }
  }
}
