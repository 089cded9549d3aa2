#include "ops/reference/ema.hpp"

namespace tessera::reference {

void ema_update(std::vector<double>& ema, const std::vector<double>& param, double decay) {
  for (size_t i = 0; i < ema.size(); ++i) ema[i] = decay * ema[i] + (1.0 - decay) * param[i];
}

}  // namespace tessera::reference
