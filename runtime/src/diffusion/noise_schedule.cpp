#include "tessera/noise_schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "tessera/error.hpp"

namespace tessera {

NoiseSchedule::NoiseSchedule(Schedule kind, int timesteps) {
  if (timesteps < 2) throw Error("noise schedule: need at least 2 timesteps, got " + std::to_string(timesteps));
  betas_.resize(timesteps);
  if (kind == Schedule::Linear) {
    for (int t = 0; t < timesteps; ++t) betas_[t] = 1e-4 + (0.02 - 1e-4) * t / (timesteps - 1);
  } else {
    constexpr double s = 0.008;
    auto f = [&](double t) {
      double c = std::cos((t / timesteps + s) / (1 + s) * std::numbers::pi / 2);
      return c * c;
    };
    for (int t = 0; t < timesteps; ++t) betas_[t] = std::min(1.0 - f(t + 1) / f(t), 0.999);
  }
  alpha_bars_.resize(timesteps);
  double prod = 1.0;
  for (int t = 0; t < timesteps; ++t) {
    prod *= 1.0 - betas_[t];
    alpha_bars_[t] = prod;
  }
}

double NoiseSchedule::sqrt_alpha_bar(int t) const { return std::sqrt(alpha_bar(t)); }
double NoiseSchedule::sqrt_one_minus_alpha_bar(int t) const { return std::sqrt(1.0 - alpha_bar(t)); }
double NoiseSchedule::snr(int t) const { return alpha_bar(t) / (1.0 - alpha_bar(t)); }

double NoiseSchedule::min_snr_weight(int t, double gamma, Prediction prediction) const {
  if (gamma <= 0) return 1.0;
  double s = snr(t);
  return prediction == Prediction::V ? std::min(s, gamma) / (s + 1.0) : std::min(s, gamma) / s;
}

}  // namespace tessera
