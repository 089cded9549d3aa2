// DDIM sampling (Song et al. 2021) with the U-Net, every step on the device. The whole loop -
// initial noise, per-step timestep fill, U-Net forward, DDIM update - is recorded once into
// one command buffer and replayed for each new seed or label set; the host writes only the
// noise key and the labels. (The Sampling issue adds DDPM, DPM-Solver++ and guidance.)
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "tessera/command_sequence.hpp"
#include "tessera/noise_schedule.hpp"
#include "tessera/parameters.hpp"
#include "tessera/unet.hpp"

namespace tessera {

struct DdimOptions {
  int steps = 50;      // evenly spaced timesteps from T-1 down to 0
  double eta = 0.0;    // 0: deterministic DDIM; 1: DDPM-like variance
  bool clip_x0 = true;
};

inline constexpr uint32_t kSamplerNoiseStream = 0x20000000u;

class DdimSampler {
 public:
  // `weights`: the model's parameters (e.g. EMA weights), used in place - not copied.
  DdimSampler(Context& ctx, const UNetConfig& config, const ParameterSet& weights, int batch, int height, int width,
              const DdimOptions& options = {});
  ~DdimSampler();

  // Generates a batch: images f32 [N, C, H, W] (in [-1, 1] when clip_x0). labels: one per sample
  // (num_classes = unconditional) for class-conditional models, ignored otherwise.
  std::vector<float> sample(uint64_t seed, std::span<const uint32_t> labels);
  const std::vector<int>& timesteps() const { return timesteps_; }

 private:
  Context& ctx_;
  UNetConfig config_;
  DdimOptions options_;
  NoiseSchedule schedule_;
  std::unique_ptr<UNet> unet_;
  std::unique_ptr<Arena> arena_;
  Tensor x_, z_, keys_;
  std::unique_ptr<CommandSequence> seq_;
  std::vector<int> timesteps_;
};

}  // namespace tessera
