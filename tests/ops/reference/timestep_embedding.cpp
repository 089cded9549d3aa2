#include "ops/reference/timestep_embedding.hpp"

#include <cmath>

namespace tessera::reference {

std::vector<double> timestep_embedding(const std::vector<double>& timesteps, int64_t dim, double max_period) {
  int64_t half = dim / 2;
  std::vector<double> out(timesteps.size() * size_t(dim), 0.0);
  for (size_t n = 0; n < timesteps.size(); ++n)
    for (int64_t i = 0; i < half; ++i) {
      double arg = timesteps[n] * std::exp(-std::log(max_period) * double(i) / double(half));
      out[n * dim + i] = std::cos(arg);
      out[n * dim + half + i] = std::sin(arg);
    }
  return out;
}

}  // namespace tessera::reference
