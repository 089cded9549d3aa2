#version 450
// Batched GEMM for CPU Vulkan drivers without subgroup broadcast: see include/matmul.glsl for
// what it computes. Same texel-buffer loads as matmul_texel_fetch, but every invocation
// fetches the A values it needs itself instead of receiving them by broadcast.
//
// Tiling: invocation (i = gl_LocalInvocationIndex) of a 64-lane workgroup owns rows
// m0..m0+TM-1 and columns n..n+3 with n = tile_n + 4 * (i % 16), m0 = tile_m + TM * (i / 16);
// the workgroup covers 4*TM rows x 64 columns. k advances by quads.
// Grid: x = column tiles, y = row tiles, z = batch.
#define MATMUL_TEXEL_OPERANDS
#include "common.glsl"
#include "matmul.glsl"

const uint TM = 4;  // rows per invocation (compile-time: see matmul_texel_fetch.comp)

void main() {
  uint batch = gl_WorkGroupID.z;
  uint i = gl_LocalInvocationIndex;
  uint n = gl_WorkGroupID.x * 64 + 4 * (i % 16);
  uint m0 = gl_WorkGroupID.y * (4 * TM) + TM * (i / 16);
  uint a_base = batch_base(batch, pc.a_offset, pc.a_stride, pc.a_group_stride);
  uint b_base = batch_base(batch, pc.b_offset, pc.b_stride, pc.b_group_stride);

  vec4 acc[TM];
  for (uint r = 0; r < TM; ++r) acc[r] = vec4(0.0);

  for (uint kq = 0; kq < pc.K; kq += 4) {
    vec4 b_rows[4];
    load_b_quad(b_base, kq, n, b_rows);
    for (uint r = 0; r < TM; ++r) {
      uint m = min(m0 + r, pc.M - 1);
      for (uint q = 0; q < 4; ++q) {
        uint k = kq + q;
        if (k >= pc.K) break;
        float a = TRANS_A ? a_at(a_base + k * pc.M + m) : a_at(a_base + m * pc.K + k);
        MATMUL_ACC(acc[r], a, b_rows[q]);
      }
    }
  }

  if (m0 >= pc.M) return;
  uint c_base = batch_base(batch, pc.c_offset, pc.c_stride, pc.c_group_stride);
  for (uint r = 0; r < TM; ++r) {
    uint m = m0 + r;
    if (m >= pc.M) break;
    for (uint c = 0; c < 4; ++c) {
      if (n + c < pc.N) store_c(c_base, m, n + c, acc[r][c]);
    }
  }
}
