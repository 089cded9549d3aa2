#include "ops/reference/mse_loss.hpp"

namespace tessera::reference {

double mse_loss(const std::vector<double>& pred, const std::vector<double>& target,
                const std::vector<double>& weights, int64_t per_sample) {
  double sum = 0;
  for (size_t i = 0; i < pred.size(); ++i) {
    double w = weights.empty() ? 1.0 : weights[i / per_sample];
    double d = pred[i] - target[i];
    sum += w * d * d;
  }
  return sum / double(pred.size());
}

std::vector<double> mse_loss_backward(const std::vector<double>& pred, const std::vector<double>& target,
                                      const std::vector<double>& weights, int64_t per_sample, double dloss_scale) {
  std::vector<double> d(pred.size());
  for (size_t i = 0; i < pred.size(); ++i) {
    double w = weights.empty() ? 1.0 : weights[i / per_sample];
    d[i] = 2.0 * w * (pred[i] - target[i]) / double(pred.size()) * dloss_scale;
  }
  return d;
}

}  // namespace tessera::reference
