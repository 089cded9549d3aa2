// CPU double-precision reference of the parameter EMA.
#pragma once
#include <cstddef>
#include <vector>

namespace tessera::reference {

void ema_update(std::vector<double>& ema, const std::vector<double>& param, double decay);

}  // namespace tessera::reference
