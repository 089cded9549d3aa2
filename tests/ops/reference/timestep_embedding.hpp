// CPU double-precision reference of the sinusoidal timestep embedding (cos first, ADM layout).
#pragma once
#include <cstdint>
#include <cstddef>
#include <vector>

namespace tessera::reference {

std::vector<double> timestep_embedding(const std::vector<double>& timesteps, int64_t dim,
                                       double max_period = 10000.0);

}  // namespace tessera::reference
