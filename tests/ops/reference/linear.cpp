#include "ops/reference/linear.hpp"

namespace tessera::reference {

std::vector<double> linear_forward(std::span<const double> x, std::span<const double> weight,
                                   std::span<const double> bias, const LinearShape& s) {
  std::vector<double> y(static_cast<size_t>(s.rows * s.out));
  for (int64_t n = 0; n < s.rows; ++n)
    for (int64_t j = 0; j < s.out; ++j) {
      double sum = bias.empty() ? 0.0 : bias[j];
      for (int64_t i = 0; i < s.in; ++i) sum += x[n * s.in + i] * weight[j * s.in + i];
      y[n * s.out + j] = sum;
    }
  return y;
}

LinearGrads linear_backward(std::span<const double> x, std::span<const double> weight, std::span<const double> dy,
                            const LinearShape& s) {
  LinearGrads g;
  g.dx.assign(static_cast<size_t>(s.rows * s.in), 0.0);
  g.dweight.assign(static_cast<size_t>(s.out * s.in), 0.0);
  g.dbias.assign(static_cast<size_t>(s.out), 0.0);
  for (int64_t n = 0; n < s.rows; ++n)
    for (int64_t j = 0; j < s.out; ++j) {
      double d = dy[n * s.out + j];
      g.dbias[j] += d;
      for (int64_t i = 0; i < s.in; ++i) {
        g.dx[n * s.in + i] += d * weight[j * s.in + i];
        g.dweight[j * s.in + i] += d * x[n * s.in + i];
      }
    }
  return g;
}

}  // namespace tessera::reference
