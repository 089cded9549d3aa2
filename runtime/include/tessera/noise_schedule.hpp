// Diffusion noise schedules (SPEC §4), computed on the host in double precision.
//   linear: beta_t = linspace(1e-4, 0.02, T)
//   cosine: alpha_bar(t) = f(t)/f(0), f(t) = cos^2(((t/T) + s)/(1 + s) * pi/2), s = 0.008,
//           beta_t = min(1 - alpha_bar(t+1)/alpha_bar(t), 0.999)   (Nichol & Dhariwal 2021)
// alpha_bar_t = prod_{i<=t} (1 - beta_i); x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps.
#pragma once
#include <vector>

#include "tessera/unet_config.hpp"

namespace tessera {

class NoiseSchedule {
 public:
  NoiseSchedule(Schedule kind, int timesteps);

  int timesteps() const { return static_cast<int>(betas_.size()); }
  double beta(int t) const { return betas_.at(t); }
  double alpha_bar(int t) const { return alpha_bars_.at(t); }
  double sqrt_alpha_bar(int t) const;
  double sqrt_one_minus_alpha_bar(int t) const;
  double snr(int t) const;  // alpha_bar / (1 - alpha_bar)

  // Per-sample loss weight for min-SNR-gamma weighting (Hang et al. 2023): for eps
  // prediction min(SNR, gamma) / SNR, for v prediction min(SNR, gamma) / (SNR + 1).
  // gamma <= 0 disables weighting (weight 1).
  double min_snr_weight(int t, double gamma, Prediction prediction) const;

 private:
  std::vector<double> betas_, alpha_bars_;
};

}  // namespace tessera
