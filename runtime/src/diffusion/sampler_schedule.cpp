#include "tessera/sampler_schedule.hpp"

#include <algorithm>
#include <cmath>

#include "tessera/error.hpp"

namespace tessera {

std::string to_string(SamplerKind kind) {
  switch (kind) {
    case SamplerKind::Ddpm: return "ddpm";
    case SamplerKind::Ddim: return "ddim";
    case SamplerKind::DpmSolver2M: return "dpmpp2m";
  }
  return "?";
}

std::optional<SamplerKind> parse_sampler_kind(const std::string& name) {
  for (SamplerKind k : {SamplerKind::Ddpm, SamplerKind::Ddim, SamplerKind::DpmSolver2M})
    if (to_string(k) == name) return k;
  return std::nullopt;
}

std::vector<int> sampler_timesteps(int timesteps, int steps, double strength) {
  if (steps < 1 || steps > timesteps)
    throw Error("sampler: steps must be in 1.." + std::to_string(timesteps) + ", got " + std::to_string(steps));
  if (!(strength >= 0 && strength <= 1)) throw Error("sampler: strength must be in [0, 1]");
  std::vector<int> ts;
  for (int i = steps - 1; i >= 0; --i) ts.push_back(static_cast<int>(int64_t(i) * timesteps / steps));
  size_t keep = static_cast<size_t>(std::llround(steps * strength));
  if (keep < ts.size()) ts.erase(ts.begin(), ts.end() - static_cast<std::ptrdiff_t>(keep));
  return ts;
}

StepTimes sampler_step_times(const std::vector<int>& timesteps, size_t i, SamplerKind kind, bool lower_order_final) {
  if (i >= timesteps.size())
    throw Error("sampler: step " + std::to_string(i) + " of " + std::to_string(timesteps.size()));
  StepTimes times{timesteps[i], i + 1 < timesteps.size() ? timesteps[i + 1] : -1, i > 0 ? timesteps[i - 1] : -1};
  if (kind == SamplerKind::DpmSolver2M && lower_order_final && i + 2 >= timesteps.size()) times.last = -1;
  return times;
}

StepCoefficients step_coefficients(const NoiseSchedule& schedule, SamplerKind kind, const StepTimes& times,
                                   double eta, DdpmVariance variance) {
  const int T = schedule.timesteps();
  if (times.t < 0 || times.t >= T || times.prev >= times.t || times.prev < -1 ||
      (times.last != -1 && (times.last <= times.t || times.last >= T)))
    throw Error("sampler: bad step times (t " + std::to_string(times.t) + ", prev " + std::to_string(times.prev) +
                ", last " + std::to_string(times.last) + ")");
  if (!(eta >= 0 && eta <= 1)) throw Error("sampler: eta must be in [0, 1]");
  const bool final_step = times.prev < 0;
  const double ab_t = schedule.alpha_bar(times.t), ab_prev = final_step ? 1.0 : schedule.alpha_bar(times.prev);
  StepCoefficients c;
  c.a_t = std::sqrt(ab_t);
  c.b_t = std::sqrt(1 - ab_t);
  c.a_prev = std::sqrt(ab_prev);
  c.b_prev = std::sqrt(1 - ab_prev);
  if (final_step) {  // every sampler ends on its x0 estimate
    c.c_x0 = 1;
    return c;
  }
  switch (kind) {
    case SamplerKind::Ddim: {
      c.sigma = eta * std::sqrt((1 - ab_prev) / (1 - ab_t)) * std::sqrt(1 - ab_t / ab_prev);
      c.c_x0 = c.a_prev;
      c.c_eps = std::sqrt(std::max(0.0, 1 - ab_prev - c.sigma * c.sigma));
      break;
    }
    case SamplerKind::Ddpm: {  // posterior q(x_prev | x_t, x0) of the (respaced) forward process
      double alpha = ab_t / ab_prev, beta = 1 - alpha;
      c.c_x0 = std::sqrt(ab_prev) * beta / (1 - ab_t);
      c.c_x = std::sqrt(alpha) * (1 - ab_prev) / (1 - ab_t);
      c.sigma = std::sqrt(variance == DdpmVariance::Beta ? beta : beta * (1 - ab_prev) / (1 - ab_t));
      break;
    }
    case SamplerKind::DpmSolver2M: {  // Lu et al. 2022, data prediction, lambda = log(a / b)
      auto lambda = [&](double ab) { return 0.5 * std::log(ab / (1 - ab)); };
      double h = lambda(ab_prev) - lambda(ab_t);
      double phi = -std::expm1(-h);  // 1 - e^{-h}
      c.c_x = c.b_prev / c.b_t;
      if (times.last < 0) {
        c.c_x0 = c.a_prev * phi;
      } else {
        double r = (lambda(ab_t) - lambda(schedule.alpha_bar(times.last))) / h;
        c.c_x0 = c.a_prev * phi * (1 + 1 / (2 * r));
        c.c_x0_last = -c.a_prev * phi / (2 * r);
        c.uses_history = true;
      }
      break;
    }
  }
  return c;
}

}  // namespace tessera
