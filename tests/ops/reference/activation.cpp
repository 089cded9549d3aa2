#include "ops/reference/activation.hpp"

#include <cmath>

namespace tessera::reference {

double silu(double x) { return x / (1.0 + std::exp(-x)); }

double silu_derivative(double x) {
  double s = 1.0 / (1.0 + std::exp(-x));
  return s + x * s * (1.0 - s);
}

std::vector<double> silu_forward(const std::vector<double>& x) {
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = silu(x[i]);
  return y;
}

std::vector<double> silu_backward(const std::vector<double>& x, const std::vector<double>& dy) {
  std::vector<double> dx(x.size());
  for (size_t i = 0; i < x.size(); ++i) dx[i] = dy[i] * silu_derivative(x[i]);
  return dx;
}

}  // namespace tessera::reference
