#include "ops/reference/grad_norm.hpp"

#include <algorithm>
#include <cmath>

namespace tessera::reference {

double global_norm(const std::vector<std::vector<double>>& grads) {
  double sum = 0;
  for (const auto& g : grads)
    for (double x : g) sum += x * x;
  return std::sqrt(sum);
}

double clip_coefficient(double norm, double max_norm) { return std::min(1.0, max_norm / (norm + 1e-6)); }

}  // namespace tessera::reference
