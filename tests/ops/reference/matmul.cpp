#include "ops/reference/matmul.hpp"

namespace tessera::reference {

std::vector<double> matmul(std::span<const double> a, std::span<const double> b, const GemmShape& s) {
  std::vector<double> c(static_cast<size_t>(s.m * s.n), 0.0);
  for (int64_t i = 0; i < s.m; ++i)
    for (int64_t j = 0; j < s.n; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < s.k; ++p) {
        double av = s.transpose_a ? a[p * s.m + i] : a[i * s.k + p];
        double bv = s.transpose_b ? b[j * s.k + p] : b[p * s.n + j];
        sum += av * bv;
      }
      c[i * s.n + j] = sum;
    }
  return c;
}

}  // namespace tessera::reference
