// Batched matrix multiply (GEMM) on f32 tensors:
//
//   C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b] + bias        for b in [0, batch)
//
// op(A) is M x K, op(B) is K x N, C[b] is M x N, op(X) = X or X^T. Every matrix is stored
// packed row-major (row stride = its number of columns): stored A is [M,K], or [K,M] with
// transpose_a; stored B is [K,N], or [N,K] with transpose_b. bias (optional) is a length-N
// vector added to every row. With beta == 0, C is write-only (never read, so it may hold NaN).
//
// Batch addressing: each operand is a MatrixBatch, a tensor plus element offsets. Product b
// belongs to group g = b / group_size and is member i = b % group_size of it; its matrix
// starts at element offset + g * group_stride + i * stride of the tensor. With one group
// (group_size = 0 means "all of the batch") that is the usual strided batch; two levels let
// attention address (sample, head) pairs inside an [N, 3C, H, W] tensor in one dispatch.
// A stride of 0 shares one matrix across the batch.
//
// Variants (ctx.variant()): TexelFetch reads A and B through texel buffers (vec4 fetches when the
// contiguous dimension and all offsets are multiples of 4) and shares A values across a
// subgroup with subgroupBroadcast, without shared memory or barriers; without subgroup
// support it falls back to a texel kernel where each invocation fetches everything itself.
// SharedTiles stages 64x64 tiles in shared memory with a 4x4 register block per invocation.
// The TexelFetch variant needs every tensor to start at a 16-byte aligned offset (arena tensors do).
// The result of each element is a k-ordered sum: deterministic, run to run.
// C must not overlap A, B or bias.
#pragma once
#include <cstdint>

#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera::ops {

struct MatrixBatch {
  Tensor tensor;             // dense f32, holds every matrix of the batch
  int64_t offset = 0;        // elements from the tensor's start to matrix 0
  int64_t stride = 0;        // elements between consecutive matrices of a group
  int64_t group_stride = 0;  // elements between consecutive groups (unused with one group)
};

struct MatmulParams {
  int64_t m = 0, n = 0, k = 0;
  int64_t batch = 1;
  int64_t group_size = 0;  // matrices per group; 0: one group holding the whole batch
  bool transpose_a = false;
  bool transpose_b = false;
  float alpha = 1.0f;
  float beta = 0.0f;
  const Tensor* bias = nullptr;  // optional dense f32 [n]
};

// The general form. Throws ShapeError if a matrix would reach past its tensor, a dtype is not
// f32, a size is not positive, or C overlaps an input.
void matmul(CommandSequence& seq, const MatrixBatch& a, const MatrixBatch& b, const MatrixBatch& c,
            const MatmulParams& params);

// Dense convenience: a is [M,K] ([K,M] transposed), b is [K,N] ([N,K] transposed), c is [M,N];
// or all with a leading batch dimension [batch, rows, cols]. A rank-2 a or b with a rank-3 c
// is shared by every product. Throws ShapeError on an inner-dimension or batch mismatch.
void matmul(CommandSequence& seq, const Tensor& a, const Tensor& b, const Tensor& c, bool transpose_a = false,
            bool transpose_b = false, float alpha = 1.0f, float beta = 0.0f);

// Floating-point operations of a batched GEMM (2*M*N*K per product), for benchmarks.
inline uint64_t matmul_flops(int64_t m, int64_t n, int64_t k, int64_t batch = 1) {
  return 2ull * static_cast<uint64_t>(m) * static_cast<uint64_t>(n) * static_cast<uint64_t>(k) *
         static_cast<uint64_t>(batch);
}

}  // namespace tessera::ops
