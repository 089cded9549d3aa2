#version 450
// SharedTiles variant of all three conv2d passes as one shared-memory tiled implicit GEMM,
// C[m, n] = sum_k A[m, k] * B[k, n], with the mode picking what m, n, k and A, B are:
//   MODE 0 forward:     m = co, n = (img, oy, ox), k = (ci, tap); A = w, B = x at the tap;
//                       C (+ bias) -> y
//   MODE 1 grad input:  m = ci, n = (img, iy, ix), k = (co, tap); A = w transposed,
//                       B = dy at the transposed tap; C -> dx (or += dx)
//   MODE 2 grad weight: m = co, n = (ci, tap), k = output pixels of split z;
//                       A = dy, B = x at the tap; C -> part[z] (dw itself with one split)
// Tiling: a 256-lane workgroup owns a 64x64 tile of C; per step it stages a 16x64 slice of A
// and of B in shared memory (each lane loads 4 of each; a lane's m or n is fixed, so its
// coordinate decode happens once) and each lane accumulates a 4x4 register block (rows
// ty + 16i, cols tx + 16j, so shared reads of a warp are conflict-free). Also the fallback on
// devices without subgroup operations.
#include "common.glsl"
#include "conv2d.glsl"
#include "portable_math.glsl"

// PORTABLE=1 (conv2d_gemm_shared_tiles_portable, forward only): docs/portable.md's conv2d; the
// k index is decoded tap-major (k = tap * Ci + c) so a lane's sequential sum over k has the
// contract's order (ky, kx, then channel), with flushed add/mul instead of fma.
layout(constant_id = 6) const int MODE = 0;

layout(std430, binding = 0) readonly buffer Src { float src[]; };  // x (modes 0, 2) or dy (1)
layout(std430, binding = 1) readonly buffer Aux { float aux[]; };  // w (modes 0, 1) or dy (2)
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) buffer Dst { float dst[]; };

const int BM = 64, BN = 64, BK = 16;
shared float tile_a[BK][BM];
shared float tile_b[BK][BN];

// Flattened pixel q of an h x w map -> (img, y, x).
void decode_pixel(int q, int hw, int w, out int img, out int y, out int x) {
  img = q / hw;
  int r = q - img * hw;
  y = r / w;
  x = r - y * w;
}

void main() {
  int tid = int(gl_LocalInvocationIndex);
  int tx = tid % 16, ty = tid / 16;
  int in_hw = pc.in_h * pc.in_w, out_hw = pc.out_h * pc.out_w;
  int m_count, n_count, k_begin, k_end;
  if (MODE == 0) {
    m_count = pc.out_channels; n_count = pc.batch * out_hw; k_begin = 0; k_end = pc.in_channels * TAPS;
  } else if (MODE == 1) {
    m_count = pc.in_channels; n_count = pc.batch * in_hw; k_begin = 0; k_end = pc.out_channels * TAPS;
  } else {
    m_count = pc.out_channels; n_count = pc.in_channels * TAPS;
    k_begin = int(gl_WorkGroupID.z) * pc.split_pixels;
    k_end = min(k_begin + pc.split_pixels, pc.batch * out_hw);
  }
  int m_base = int(gl_WorkGroupID.y) * BM, n_base = int(gl_WorkGroupID.x) * BN;

  // This lane's fixed row of the A slice and column of the B slice.
  int load_m = m_base + tid % BM, load_n = n_base + tid % BN, load_k = tid / BM;
  bool m_ok = load_m < m_count, n_ok = load_n < n_count;
  int bn_img = 0, bn_y = 0, bn_x = 0, bn_ci = 0, bn_ky = 0, bn_kx = 0;
  if (MODE == 0) decode_pixel(min(load_n, n_count - 1), out_hw, pc.out_w, bn_img, bn_y, bn_x);
  if (MODE == 1) decode_pixel(min(load_n, n_count - 1), in_hw, pc.in_w, bn_img, bn_y, bn_x);
  if (MODE == 2) {
    bn_ci = load_n / TAPS;
    int tap = load_n % TAPS;
    bn_ky = tap / KSIZE;
    bn_kx = tap % KSIZE;
  }

  float acc[4][4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0;

  for (int k0 = k_begin; k0 < k_end; k0 += BK) {
    for (int i = 0; i < BK * BM / 256; ++i) {
      int kl = load_k + i * (256 / BM);
      int k = k0 + kl;
      float va = 0.0, vb = 0.0;
      if (k < k_end) {
        if (MODE == 0) {
#if PORTABLE
          // docs/portable.md's order: taps (ky, kx) outer, input channel inner.
          int tap = k / pc.in_channels, c = k % pc.in_channels;
          if (m_ok) va = pm_flush(aux[load_m * k_end + c * TAPS + tap]);
#else
          int c = k / TAPS, tap = k % TAPS;
          if (m_ok) va = aux[load_m * k_end + k];
#endif
          int sy, sx;
          bool vy = conv_tap_forward(bn_y, tap / KSIZE, pc.in_h, sy);
          bool vx = conv_tap_forward(bn_x, tap % KSIZE, pc.in_w, sx);
          if (n_ok && vy && vx) vb = src[bn_img * pc.in_batch_stride + c * in_hw + sy * pc.in_w + sx];
#if PORTABLE
          vb = pm_flush(vb);
#endif
        } else if (MODE == 1) {
          int c = k / TAPS, tap = k % TAPS;
          if (m_ok) va = aux[(c * pc.in_channels + load_m) * TAPS + tap];
          int sy, sx;
          bool vy = conv_tap_transposed(bn_y, tap / KSIZE, pc.in_h, pc.out_h, sy);
          bool vx = conv_tap_transposed(bn_x, tap % KSIZE, pc.in_w, pc.out_w, sx);
          if (n_ok && vy && vx) vb = src[bn_img * pc.out_batch_stride + c * out_hw + sy * pc.out_w + sx];
        } else {
          int img, oy, ox;
          decode_pixel(k, out_hw, pc.out_w, img, oy, ox);
          if (m_ok) va = aux[img * pc.out_batch_stride + load_m * out_hw + oy * pc.out_w + ox];
          int sy, sx;
          bool vy = conv_tap_forward(oy, bn_ky, pc.in_h, sy);
          bool vx = conv_tap_forward(ox, bn_kx, pc.in_w, sx);
          if (n_ok && vy && vx) vb = src[img * pc.in_batch_stride + bn_ci * in_hw + sy * pc.in_w + sx];
        }
      }
      tile_a[kl][tid % BM] = va;
      tile_b[kl][tid % BN] = vb;
    }
    barrier();
    for (int kk = 0; kk < BK; ++kk) {
      float a[4], b[4];
      for (int i = 0; i < 4; ++i) a[i] = tile_a[kk][ty + 16 * i];
      for (int j = 0; j < 4; ++j) b[j] = tile_b[kk][tx + 16 * j];
      for (int i = 0; i < 4; ++i)
#if PORTABLE
        for (int j = 0; j < 4; ++j) acc[i][j] = pm_acc(acc[i][j], a[i], b[j]);
#else
        for (int j = 0; j < 4; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
#endif
    }
    barrier();
  }

  for (int j = 0; j < 4; ++j) {
    int n = n_base + tx + 16 * j;
    if (n >= n_count) continue;
    int img = 0, py = 0, px = 0;
    if (MODE == 0) decode_pixel(n, out_hw, pc.out_w, img, py, px);
    if (MODE == 1) decode_pixel(n, in_hw, pc.in_w, img, py, px);
    for (int i = 0; i < 4; ++i) {
      int m = m_base + ty + 16 * i;
      if (m >= m_count) continue;
      float v = acc[i][j];
      if (MODE == 0) {
        int idx = img * pc.out_batch_stride + m * out_hw + py * pc.out_w + px;
#if PORTABLE
        if ((pc.flags & kConvBias) != 0) v = pm_add(v, pm_flush(bias[m]));
#else
        if ((pc.flags & kConvBias) != 0) v += bias[m];
#endif
        dst[idx] = v;
      } else if (MODE == 1) {
        int idx = img * pc.in_batch_stride + m * in_hw + py * pc.in_w + px;
        if ((pc.flags & kConvAccumulate) != 0) v += dst[idx];
        dst[idx] = v;
      } else {
        dst[int(gl_WorkGroupID.z) * m_count * n_count + m * n_count + n] = v;
      }
    }
  }
}
