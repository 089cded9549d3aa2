// Shared by the matmul kernels (matmul_texel_fetch, matmul_texel_fetch_nosubgroup,
// matmul_shared_tiles).
//
// Computes, for every product b of a batch:
//   C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b] + bias      (beta*C skipped when beta == 0,
//                                                                  bias only with HAS_BIAS)
// op(A) is M x K, op(B) is K x N, C is M x N; every matrix is stored packed row-major.
// Stored A is [M,K] or, with TRANS_A, [K,M]; stored B is [K,N] or, with TRANS_B, [N,K].
// bias is a length-N vector added to every row of C.
//
// Batch addressing: product b belongs to group g = b / group_size, member i = b % group_size;
// matrix X[b] starts at element x_offset + g * x_group_stride + i * x_stride. Two levels let
// attention walk (sample, head) pairs inside a [N, 3C, H, W] tensor with one dispatch.
// The batch index is gl_WorkGroupID.z.
//
// PORTABLE=1 (the *_portable kernels, shaders/variants.txt): docs/portable.md's matmul. Every
// kernel already sums k in ascending order per output; the portable build flushes the operands
// on load and accumulates with flushed add/mul (MATMUL_ACC) instead of a contractible a*b+acc.
#ifndef TESSERA_MATMUL_GLSL
#define TESSERA_MATMUL_GLSL
#include "portable_math.glsl"

#if PORTABLE
#define MATMUL_ACC(acc, a, b) acc = pm_acc4(acc, vec4(a), b)
#define MATMUL_ACC1(acc, a, b) acc = pm_acc(acc, a, b)
#define MATMUL_LOAD(x) pm_flush(x)
#define MATMUL_LOAD4(x) pm_flush4(x)
#else
#define MATMUL_ACC(acc, a, b) acc += a * b
#define MATMUL_ACC1(acc, a, b) acc += a * b
#define MATMUL_LOAD(x) (x)
#define MATMUL_LOAD4(x) (x)
#endif

layout(constant_id = 3) const bool TRANS_A = false;
layout(constant_id = 4) const bool TRANS_B = false;
// The operand is bound as a vec4 texel view (TexelFetch variant; row length and offsets are
// multiples of 4).
layout(constant_id = 5) const bool VEC4_A = false;
layout(constant_id = 6) const bool VEC4_B = false;
layout(constant_id = 7) const bool HAS_BIAS = false;

layout(push_constant) uniform MatmulPush {
  uint M, N, K;
  uint group_size;
  uint a_offset, a_stride, a_group_stride;
  uint b_offset, b_stride, b_group_stride;
  uint c_offset, c_stride, c_group_stride;
  uint bias_offset;
  float alpha, beta;
} pc;

uint batch_base(uint batch, uint offset, uint stride, uint group_stride) {
  return offset + (batch / pc.group_size) * group_stride + (batch % pc.group_size) * stride;
}

layout(std430, binding = 2) buffer MatrixC { float c_data[]; };
layout(std430, binding = 3) readonly buffer BiasN { float bias_data[]; };

// Writes one element of C (caller checks m < M, n < N). C is read only when beta != 0 so an
// uninitialised (NaN) output with beta == 0 is fully overwritten.
void store_c(uint c_base, uint m, uint n, float acc) {
  uint index = c_base + m * pc.N + n;
#if PORTABLE
  float value = pm_mul(pc.alpha, acc);
  if (HAS_BIAS) value = pm_add(value, pm_flush(bias_data[pc.bias_offset + n]));
  if (pc.beta != 0.0) value = pm_add(value, pm_mul(pc.beta, pm_flush(c_data[index])));
#else
  float value = pc.alpha * acc;
  if (HAS_BIAS) value += bias_data[pc.bias_offset + n];
  if (pc.beta != 0.0) value += pc.beta * c_data[index];
#endif
  c_data[index] = value;
}

#ifdef MATMUL_TEXEL_OPERANDS
// A and B bound as samplerBuffers: R32 views, or RGBA32 views when VEC4_A / VEC4_B (then the
// contiguous dimension and every offset are multiples of 4, so a quad never straddles rows).
// Out-of-range rows/columns are clamped to the last valid one instead of branching: the
// garbage they produce lands in outputs that are never stored. Out-of-range k must
// contribute zero; callers zero the A value there (B is clamped, finite).
layout(binding = 0) uniform samplerBuffer a_tex;
layout(binding = 1) uniform samplerBuffer b_tex;

float a_at(uint i) { return MATMUL_LOAD(texelFetch(a_tex, int(i)).x); }
float b_at(uint i) { return MATMUL_LOAD(texelFetch(b_tex, int(i)).x); }

// op(B)[k, n..n+3] for k < K (n may run past N: clamped).
vec4 load_b_row(uint b_base, uint k, uint n) {
  if (TRANS_B) {
    uint n0 = min(n, pc.N - 1), n1 = min(n + 1, pc.N - 1), n2 = min(n + 2, pc.N - 1), n3 = min(n + 3, pc.N - 1);
    return vec4(b_at(b_base + n0 * pc.K + k), b_at(b_base + n1 * pc.K + k), b_at(b_base + n2 * pc.K + k),
                b_at(b_base + n3 * pc.K + k));
  }
  uint row = b_base + k * pc.N;
  if (VEC4_B) return MATMUL_LOAD4(texelFetch(b_tex, int((row + min(n, pc.N - 4)) >> 2)));
  return vec4(b_at(row + min(n, pc.N - 1)), b_at(row + min(n + 1, pc.N - 1)), b_at(row + min(n + 2, pc.N - 1)),
              b_at(row + min(n + 3, pc.N - 1)));
}

// op(B)[kq..kq+3, n..n+3] as four rows (rows[q] = op(B)[kq+q, n..n+3]); k past K is clamped.
void load_b_quad(uint b_base, uint kq, uint n, out vec4 rows[4]) {
  if (TRANS_B && VEC4_B) {
    // Stored [N,K] with K % 4 == 0: a quad along k is one fetch per column; transpose in registers.
    vec4 col[4];
    for (uint c = 0; c < 4; ++c)
      col[c] = MATMUL_LOAD4(texelFetch(b_tex, int((b_base + min(n + c, pc.N - 1) * pc.K + kq) >> 2)));
    for (uint q = 0; q < 4; ++q) rows[q] = vec4(col[0][q], col[1][q], col[2][q], col[3][q]);
    return;
  }
  if (VEC4_B) {
    for (uint q = 0; q < 4; ++q)
      rows[q] = MATMUL_LOAD4(texelFetch(b_tex, int((b_base + (kq + q) * pc.N + min(n, pc.N - 4)) >> 2)));
    return;
  }
  for (uint q = 0; q < 4; ++q) rows[q] = load_b_row(b_base, min(kq + q, pc.K - 1), n);
}
#endif

#endif
