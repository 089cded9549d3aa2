// CPU double-precision reference of one torch.optim.AdamW step (amsgrad=False).
#pragma once
#include <cstdint>
#include <cstddef>
#include <vector>

namespace tessera::reference {

struct AdamWConfig {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 1e-2;
};

// Applies step t (>= 1) to param, exp_avg, exp_avg_sq in place; grad is multiplied by
// grad_scale first (the clip coefficient).
void adamw_step(std::vector<double>& param, std::vector<double>& exp_avg, std::vector<double>& exp_avg_sq,
                const std::vector<double>& grad, const AdamWConfig& config, int64_t step, double grad_scale = 1.0);

}  // namespace tessera::reference
