#include "ops/reference/adamw.hpp"

#include <cmath>

namespace tessera::reference {

void adamw_step(std::vector<double>& param, std::vector<double>& exp_avg, std::vector<double>& exp_avg_sq,
                const std::vector<double>& grad, const AdamWConfig& c, int64_t step, double grad_scale) {
  double bias_correction1 = 1.0 - std::pow(c.beta1, double(step));
  double bias_correction2 = 1.0 - std::pow(c.beta2, double(step));
  double step_size = c.lr / bias_correction1;
  for (size_t i = 0; i < param.size(); ++i) {
    double g = grad[i] * grad_scale;
    param[i] *= 1.0 - c.lr * c.weight_decay;
    exp_avg[i] = exp_avg[i] * c.beta1 + (1.0 - c.beta1) * g;
    exp_avg_sq[i] = exp_avg_sq[i] * c.beta2 + (1.0 - c.beta2) * g * g;
    double denom = std::sqrt(exp_avg_sq[i]) / std::sqrt(bias_correction2) + c.eps;
    param[i] -= step_size * exp_avg[i] / denom;
  }
}

}  // namespace tessera::reference
