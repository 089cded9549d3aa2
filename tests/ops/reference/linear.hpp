// CPU double-precision reference for ops::linear_forward / linear_backward (nn.Linear layout).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace tessera::reference {

struct LinearShape {
  int64_t rows = 0, in = 0, out = 0;
};

// y[n, j] = sum_i x[n, i] * weight[j, i] + bias[j]; an empty bias means none.
std::vector<double> linear_forward(std::span<const double> x, std::span<const double> weight,
                                   std::span<const double> bias, const LinearShape& shape);

struct LinearGrads {
  std::vector<double> dx, dweight, dbias;
};
LinearGrads linear_backward(std::span<const double> x, std::span<const double> weight, std::span<const double> dy,
                            const LinearShape& shape);

}  // namespace tessera::reference
