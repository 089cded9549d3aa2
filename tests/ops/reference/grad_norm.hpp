// CPU double-precision reference of the global gradient norm and clip coefficient
// (torch.nn.utils.clip_grad_norm_).
#pragma once
#include <cstddef>
#include <vector>

namespace tessera::reference {

double global_norm(const std::vector<std::vector<double>>& grads);
// min(1, max_norm / (norm + 1e-6))
double clip_coefficient(double norm, double max_norm);

}  // namespace tessera::reference
