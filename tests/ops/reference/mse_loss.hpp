// CPU double-precision reference of the weighted MSE loss and its gradient.
#pragma once
#include <cstdint>
#include <cstddef>
#include <vector>

namespace tessera::reference {

// weights empty: w = 1. per_sample = numel / N.
double mse_loss(const std::vector<double>& pred, const std::vector<double>& target,
                const std::vector<double>& weights, int64_t per_sample);
std::vector<double> mse_loss_backward(const std::vector<double>& pred, const std::vector<double>& target,
                                      const std::vector<double>& weights, int64_t per_sample, double dloss_scale);

}  // namespace tessera::reference
