// Host-side math of the samplers (SPEC §4): which timesteps a generation visits and the
// coefficients of each step's update, in double precision. The device applies them with
// ops::sampler_step; tools/reference/samplers.py implements the same rules in PyTorch.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "tessera/noise_schedule.hpp"

namespace tessera {

enum class SamplerKind { Ddpm, Ddim, DpmSolver2M };
enum class DdpmVariance { Beta, BetaTilde };  // sigma_t^2 = beta_t, or the posterior variance

std::string to_string(SamplerKind kind);
std::optional<SamplerKind> parse_sampler_kind(const std::string& name);  // ddpm | ddim | dpmpp2m

// Evenly spaced timesteps from T-1 down to 0, strictly decreasing: t_i = round((T-1)(S-1-i)/(S-1)).
// img2img with strength s keeps the last round(S*s) of them (none for s = 0: the input is kept).
std::vector<int> sampler_timesteps(int timesteps, int steps, double strength = 1.0);

// x_prev = c_x x + c_x0 x0 + c_x0_last x0_last + c_eps eps + sigma z, where x0 and eps come from
// the model output at t (a_t, b_t), see shaders/sampler_step.comp.
struct StepCoefficients {
  double a_t, b_t;
  double c_x = 0, c_x0 = 0, c_x0_last = 0, c_eps = 0, sigma = 0;
  double a_prev, b_prev;  // of the step's target noise level, for the known-pixel blend
  bool uses_history = false;
};

struct StepTimes {
  int t;
  int prev = -1;  // next timestep of the sequence; -1 = the final step, to alpha_bar = 1
  int last = -1;  // the previous step's t (DPM-Solver++ history); -1 = none
};

// eta: DDIM only (0 deterministic, 1 DDPM-like); variance: DDPM only.
StepCoefficients step_coefficients(const NoiseSchedule& schedule, SamplerKind kind, const StepTimes& times,
                                   double eta = 0.0, DdpmVariance variance = DdpmVariance::BetaTilde);

}  // namespace tessera
