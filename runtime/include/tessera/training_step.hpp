// One DDPM training step as ONE recorded command buffer, replayed every step (SPEC §5):
//   noise eps (device RNG) -> x_t, target -> U-Net forward -> weighted MSE -> backward ->
//   global grad norm -> AdamW (clipping folded in) -> EMA.
// Between steps the host writes only small buffers: the image batch and labels it sampled,
// the per-sample timesteps / noising coefficients / loss weights, the noise key, and the
// optimizer hyper-parameter block; it reads back the loss and the gradient norm.
//
// Randomness, all from (seed, step) so a resumed run repeats exactly:
//   timestep of sample n   rng::uniform(seed, kTimestepStream, step * N + n)
//   label dropout          rng::uniform(seed, kLabelDropoutStream, step * N + n) < p
//   noise                  rng::normal(seed, kNoiseStreamBase + step, i) on the device
//   initial weights        rng::uniform(seed, kInitStream, flat index)
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "tessera/command_sequence.hpp"
#include "tessera/noise_schedule.hpp"
#include "tessera/parameters.hpp"
#include "tessera/unet.hpp"
#include "tessera/unet_config.hpp"

namespace tessera {

class Context;

struct TrainHyperParams {
  double lr = 2e-4;
  int64_t warmup_steps = 200;   // linear learning-rate warm-up
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, adam_eps = 1e-8;
  double grad_clip = 1.0;       // max global gradient norm (<= 0: no clipping)
  double ema_decay = 0.999;     // with warm-up: min(decay, (1 + step) / (10 + step))
  double label_dropout = 0.1;   // probability of the null label (class-conditional models)
  double min_snr_gamma = 0.0;   // 0: plain MSE
  uint64_t seed = 0;
};

inline constexpr uint32_t kInitStream = 1;
inline constexpr uint32_t kTimestepStream = 2;
inline constexpr uint32_t kLabelDropoutStream = 3;
inline constexpr uint32_t kNoiseStreamBase = 0x40000000u;  // + step

struct StepResult {
  int64_t step;      // the step just completed (1-based)
  float loss;
  float grad_norm;   // before clipping
  double lr;
};

class TrainingStep {
 public:
  TrainingStep(Context& ctx, const UNetConfig& config, int batch, int resolution, const TrainHyperParams& hp);
  ~TrainingStep();

  const UNetConfig& config() const { return config_; }
  int batch() const { return batch_; }
  int resolution() const { return resolution_; }
  ParameterSet& params() { return params_; }
  const UNet& unet() const { return *unet_; }
  int64_t step() const { return step_; }  // steps completed

  // Fresh weights from the seed: conv/linear U(-1/sqrt(fan_in), +) (PyTorch's default),
  // GroupNorm gamma 1 / beta 0, class embedding N(0, 1)-like uniform, and - as in ADM - zero
  // for the last conv of every residual branch (ResBlock conv2, attention proj, conv_out), so
  // the untrained network starts as an identity-like map. EMA = weights, moments = 0, step 0.
  void initialize(uint64_t seed);

  // Runs one step on a host batch: images f32 [N, 3, R, R] in [-1, 1], labels [N] (ignored
  // for unconditional models; label dropout is applied here).
  StepResult run(std::span<const float> images, std::span<const uint32_t> labels);

  // What step t (1-based) draws from the seed for a batch with `labels`: each sample's timestep
  // and its label after label dropout (labels are not checked here). run() uses exactly these,
  // and its noise is rng::normal(seed, kNoiseStreamBase + t, i), so another trainer can replay
  // a step (tools/reference/train.py --replay, tests/training).
  struct Draws {
    std::vector<int> timesteps;
    std::vector<uint32_t> labels;
  };
  Draws draws(int64_t t, std::span<const uint32_t> labels) const;

  // Full optimizer state for checkpoints (flat layouts of params().entries()).
  struct State {
    int64_t step = 0;
    std::vector<float> weights, ema, adam_m, adam_v;
  };
  State save_state() const;
  void load_state(const State& s);

  // The learning rate and EMA decay the schedule gives for step t (1-based).
  double learning_rate(int64_t t) const;
  double ema_decay(int64_t t) const;
  double forward_flops() const { return unet_->forward_flops(); }
  // The recorded step; its timings() give GPU time per phase (noise, forward, backward, optimizer).
  const CommandSequence& sequence() const { return *seq_; }
  // Re-records the step with a timestamp around every dispatch (CommandSequence::
  // profile_each_dispatch); sequence().dispatch_timings() then says where the time goes.
  void profile_each_dispatch() { record(/*profile=*/true); }

 private:
  void record(bool profile = false);

  Context& ctx_;
  UNetConfig config_;
  int batch_, resolution_;
  TrainHyperParams hp_;
  NoiseSchedule schedule_;
  ParameterSet params_;
  std::unique_ptr<UNet> unet_;
  std::unique_ptr<Arena> arena_;
  Tensor x0_, eps_, coefs_, target_, loss_weights_, loss_, loss_scratch_, norm_, norm_scratch_, keys_, hyper_;
  Tensor ema_, adam_m_, adam_v_;
  std::unique_ptr<CommandSequence> seq_;
  int64_t step_ = 0;
};

}  // namespace tessera
