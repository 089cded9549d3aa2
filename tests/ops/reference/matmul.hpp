// CPU double-precision reference for ops::matmul.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace tessera::reference {

struct GemmShape {
  int64_t m = 0, n = 0, k = 0;
  bool transpose_a = false, transpose_b = false;
};

// op(A) * op(B) as a packed row-major M x N matrix. A is stored [M,K] ([K,M] transposed),
// B is stored [K,N] ([N,K] transposed), both packed row-major, as in ops/matmul.hpp.
std::vector<double> matmul(std::span<const double> a, std::span<const double> b, const GemmShape& shape);

}  // namespace tessera::reference
