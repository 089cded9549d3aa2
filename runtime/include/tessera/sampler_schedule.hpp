// Host-side math of the samplers (SPEC §4): which timesteps a generation visits and the
// coefficients of each step's update, in double precision. The device applies them with
// ops::sampler_step; tools/reference/samplers.py implements the same rules in PyTorch.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "tessera/noise_schedule.hpp"
#include "tessera/ops/diffusion.hpp"

namespace tessera {

enum class SamplerKind { Ddpm, Ddim, DpmSolver2M };
enum class DdpmVariance { Beta, BetaTilde };  // sigma_t^2 = beta_t, or the posterior variance

std::string to_string(SamplerKind kind);
std::optional<SamplerKind> parse_sampler_kind(const std::string& name);  // ddpm | ddim | dpmpp2m

// S evenly spaced timesteps from the top of the grid down to 0 ("leading" spacing, as ADM's DDIM):
// t_i = floor((S-1-i) T / S), e.g. 960, 920, ..., 0 for S = 25 of T = 1000 (all T for S = T).
// Why not from T-1: there a cosine schedule's alpha_bar is ~2e-9, and a deterministic step's
// x0 estimate (x - b eps)/a multiplies the model's eps error by ~2e4 - the images come out as
// saturated noise. img2img with strength s keeps the last round(S*s) (none for s = 0: the input
// is kept).
std::vector<int> sampler_timesteps(int timesteps, int steps, double strength = 1.0);

// One step's update (the sampler_step op's coefficients, at t) and its target noise level.
struct StepCoefficients : ops::SamplerStepCoefficients {
  double a_prev, b_prev;  // of the step's target noise level, for the known-pixel blend
};

struct StepTimes {
  int t;
  int prev = -1;  // next timestep of the sequence; -1 = the final step, to alpha_bar = 1
  int last = -1;  // the previous step's t (DPM-Solver++ history); -1 = none
};

// The times of step i of a generation over `timesteps` (sampler_timesteps). DPM-Solver++(2M) with
// lower_order_final takes the first-order update (no history) on the step into the sequence's
// last timestep t = 0: on uniform timestep grids that step spans the top of the log-SNR range
// (lambda(0) = 4.6 linear, 5.05 cosine), its h is 3-5x the previous step's, and the multistep
// extrapolation weight 1/(2r), r = h_prev / h, is 2.1-2.5 at 10-25 steps (still 1.7 at 50), so
// the 2M update overshoots. Measured on the exact Gaussian-data denoiser against the closed-form
// probability-flow endpoint (float64, tools/reference/samplers.py): the error falls at every
// step count from 10 to 400, 1.8-100x at 10-50 steps (linear 10 steps 35% -> 20%, cosine 25
// steps 6.1% -> 0.06%) and 4.6-6x at 100-200, and is at the ~5e-5 floor either way at 1000 (every
// timestep); hence always, not only below 15 steps as in diffusers. The final step (to
// alpha_bar = 1) returns the x0 estimate and never uses history.
StepTimes sampler_step_times(const std::vector<int>& timesteps, size_t i, SamplerKind kind,
                             bool lower_order_final = true);

// eta: DDIM only (0 deterministic, 1 DDPM-like); variance: DDPM only.
StepCoefficients step_coefficients(const NoiseSchedule& schedule, SamplerKind kind, const StepTimes& times,
                                   double eta = 0.0, DdpmVariance variance = DdpmVariance::BetaTilde);

}  // namespace tessera
