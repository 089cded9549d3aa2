#version 450
// Batched GEMM for CPU Vulkan drivers (lavapipe): see include/matmul.glsl for what it computes.
//
// Lavapipe runs a subgroup as one SIMD program and executes storage-buffer and shared-memory
// loads lane by lane, while texel fetches are vectorized. So this kernel reads A and B only
// through texel buffers, uses no shared memory and no barriers, and shares A across the lanes
// of a subgroup with subgroupBroadcast (SPEC §10: 10-18 GFLOP/s vs 1.5-5 for shared tiles).
//
// Tiling: a subgroup of SG lanes computes a TM x 8*SG tile of C; lane l owns rows m0..m0+TM-1
// and columns n..n+7 with n = n0 + 8l (two vec4 groups of accumulators per row: each
// broadcast A value then feeds 8 FMAs, which measured ~1.3x faster than 4 on lavapipe).
// k advances in chunks of SG: lane l fetches A[m0+r, k0+l] for its TM rows, then every lane
// takes each k's A values from lane k-k0 by broadcast and fetches its own columns of op(B),
// four k at a time. One subgroup per workgroup.
// Grid: x = row tiles, y = column tiles, z = batch: consecutive workgroups read the same B
// columns, which then stay in cache.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
#define MATMUL_TEXEL_OPERANDS
#include "common.glsl"
#include "matmul.glsl"

layout(constant_id = 8) const uint SG = 8;  // subgroup size (host: DeviceInfo::subgroup_size, multiple of 4)
// Rows per lane. Compile-time constants, not specialization constants: with spec-constant
// array sizes this kernel measured 1.3-1.5x slower on lavapipe (the arrays probably stayed in
// memory). TM = 8 with 4 columns was slower too (register spills, presumably).
const uint TM = 4;
const uint TN4 = 2;  // vec4 column groups per lane (the host's kTexelFetchColumnsPerLane / 4)

// A[m0..m0+TM-1, k] (zero when k >= K), rows past M clamped.
void load_a_column(uint a_base, uint m0, uint k, out float column[TM]) {
  bool valid = k < pc.K;
  uint kk = min(k, pc.K - 1);
  if (TRANS_A) {
    uint row = a_base + kk * pc.M;
    for (uint j = 0; j < TM / 4; ++j) {
      vec4 quad;
      if (VEC4_A) {
        quad = MATMUL_LOAD4(texelFetch(a_tex, int((row + min(m0 + 4 * j, pc.M - 4)) >> 2)));
      } else {
        for (uint c = 0; c < 4; ++c) quad[c] = a_at(row + min(m0 + 4 * j + c, pc.M - 1));
      }
      for (uint c = 0; c < 4; ++c) column[4 * j + c] = valid ? quad[c] : 0.0;
    }
  } else {
    for (uint r = 0; r < TM; ++r) column[r] = valid ? a_at(a_base + min(m0 + r, pc.M - 1) * pc.K + kk) : 0.0;
  }
}

void main() {
  uint batch = gl_WorkGroupID.z;
  uint lane = gl_SubgroupInvocationID;
  uint m0 = (gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID) * TM;
  uint n = gl_WorkGroupID.y * (4 * TN4 * SG) + 4 * TN4 * lane;
  uint a_base = batch_base(batch, pc.a_offset, pc.a_stride, pc.a_group_stride);
  uint b_base = batch_base(batch, pc.b_offset, pc.b_stride, pc.b_group_stride);

  vec4 acc[TN4][TM];
  for (uint g = 0; g < TN4; ++g)
    for (uint r = 0; r < TM; ++r) acc[g][r] = vec4(0.0);

  for (uint k0 = 0; k0 < pc.K; k0 += SG) {
    float a_mine[TM];
    load_a_column(a_base, m0, k0 + lane, a_mine);
    // Quads of k: four op(B) rows fetched together before they are used measured about 2x
    // faster on lavapipe than fetching one row per k. In the last chunk a quad may reach past
    // K: its B rows are clamped and the A values there are zero.
    for (uint j = 0; j < SG / 4; ++j) {
      uint kq = k0 + 4 * j;
      if (kq >= pc.K) break;  // uniform: only in the last chunk
      vec4 b_rows[TN4][4];
      for (uint g = 0; g < TN4; ++g) load_b_quad(b_base, kq, n + 4 * g, b_rows[g]);
      for (uint q = 0; q < 4; ++q)
        for (uint r = 0; r < TM; ++r) {
          float a = subgroupBroadcast(a_mine[r], 4 * j + q);
          for (uint g = 0; g < TN4; ++g) MATMUL_ACC(acc[g][r], a, b_rows[g][q]);
        }
    }
  }

  if (m0 >= pc.M) return;
  uint c_base = batch_base(batch, pc.c_offset, pc.c_stride, pc.c_group_stride);
  for (uint r = 0; r < TM; ++r) {
    uint m = m0 + r;
    if (m >= pc.M) break;
    for (uint g = 0; g < TN4; ++g)
      for (uint c = 0; c < 4; ++c) {
        if (n + 4 * g + c < pc.N) store_c(c_base, m, n + 4 * g + c, acc[g][r][c]);
      }
  }
}
