#version 450
// Batched GEMM for discrete GPUs: see include/matmul.glsl for what it computes.
//
// Tiling: a 16x16 workgroup computes a 64x64 tile of C. k advances in steps of 16: the
// workgroup stages a 64x16 block of op(A) and a 16x64 block of op(B) in shared memory (each
// invocation loads 4 elements of each, consecutive invocations reading consecutive addresses
// of the stored layout), then every invocation accumulates a 4x4 register block: rows
// ty + 16*i, columns tx + 16*j (strided so neighbouring invocations read neighbouring
// shared-memory words). Elements outside M, N or K are staged as zero.
// Grid: x = column tiles, y = row tiles, z = batch. Needs local size 16x16x1.
#include "common.glsl"
#include "matmul.glsl"

layout(std430, binding = 0) readonly buffer MatrixA { float a_data[]; };
layout(std430, binding = 1) readonly buffer MatrixB { float b_data[]; };

const uint TILE = 64;
const uint DEPTH = 16;
// +1 column of padding: stores along k then hit distinct banks.
shared float a_tile[DEPTH][TILE + 1];
shared float b_tile[DEPTH][TILE + 1];

void main() {
  uint batch = gl_WorkGroupID.z;
  uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
  uint tid = ty * 16 + tx;
  uint tile_m = gl_WorkGroupID.y * TILE, tile_n = gl_WorkGroupID.x * TILE;
  uint a_base = batch_base(batch, pc.a_offset, pc.a_stride, pc.a_group_stride);
  uint b_base = batch_base(batch, pc.b_offset, pc.b_stride, pc.b_group_stride);

  float acc[4][4];
  for (uint i = 0; i < 4; ++i)
    for (uint j = 0; j < 4; ++j) acc[i][j] = 0.0;

  for (uint k0 = 0; k0 < pc.K; k0 += DEPTH) {
    for (uint e = 0; e < 4; ++e) {
      uint idx = tid + 256 * e;
      // Stored A is [K,M] (contiguous along m) or [M,K] (contiguous along k).
      uint mm = TRANS_A ? idx % TILE : idx / DEPTH;
      uint ka = TRANS_A ? idx / TILE : idx % DEPTH;
      uint m = tile_m + mm, k = k0 + ka;
      float av = 0.0;
      if (m < pc.M && k < pc.K) av = a_data[a_base + (TRANS_A ? k * pc.M + m : m * pc.K + k)];
      a_tile[ka][mm] = MATMUL_LOAD(av);
      // Stored B is [N,K] (contiguous along k) or [K,N] (contiguous along n).
      uint nn = TRANS_B ? idx / DEPTH : idx % TILE;
      uint kb = TRANS_B ? idx % DEPTH : idx / TILE;
      uint n = tile_n + nn;
      k = k0 + kb;
      float bv = 0.0;
      if (n < pc.N && k < pc.K) bv = b_data[b_base + (TRANS_B ? n * pc.K + k : k * pc.N + n)];
      b_tile[kb][nn] = MATMUL_LOAD(bv);
    }
    barrier();
    for (uint kk = 0; kk < DEPTH; ++kk) {
      float a[4], b[4];
      for (uint i = 0; i < 4; ++i) a[i] = a_tile[kk][ty + 16 * i];
      for (uint j = 0; j < 4; ++j) b[j] = b_tile[kk][tx + 16 * j];
      for (uint i = 0; i < 4; ++i)
        for (uint j = 0; j < 4; ++j) MATMUL_ACC1(acc[i][j], a[i], b[j]);
    }
    barrier();
  }

  uint c_base = batch_base(batch, pc.c_offset, pc.c_stride, pc.c_group_stride);
  for (uint i = 0; i < 4; ++i) {
    uint m = tile_m + ty + 16 * i;
    if (m >= pc.M) break;
    for (uint j = 0; j < 4; ++j) {
      uint n = tile_n + tx + 16 * j;
      if (n < pc.N) store_c(c_base, m, n, acc[i][j]);
    }
  }
}
