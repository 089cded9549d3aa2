#include <algorithm>
#include <cmath>

#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/diffusion.hpp"
#include "tessera/ops/random.hpp"
#include "tessera/rng.hpp"
#include "tessera/sampler.hpp"

namespace tessera {

DdimSampler::DdimSampler(Context& ctx, const UNetConfig& config, const ParameterSet& weights, int batch, int height,
                         int width, const DdimOptions& options)
    : ctx_(ctx), config_(config), options_(options), schedule_(config.schedule, config.timesteps) {
  int T = config.timesteps;
  if (options.steps < 1 || options.steps > T)
    throw Error("sampler: steps must be in 1.." + std::to_string(T) + ", got " + std::to_string(options.steps));
  if (!(options.eta >= 0 && options.eta <= 1)) throw Error("sampler: eta must be in [0, 1]");
  unet_ = std::make_unique<UNet>(ctx, config, weights, batch, height, width, /*training=*/false);
  const Shape image = unet_->input().shape();
  arena_ = std::make_unique<Arena>(ctx, 2 * shape_numel(image) * 4 + 4 * Arena::kAlignment, "sampler");
  x_ = arena_->allocate(image, DType::F32, "x");
  z_ = arena_->allocate(image, DType::F32, "z");
  keys_ = arena_->allocate({3}, DType::U32, "sampler_key");
  upload_f32(z_, std::vector<float>(static_cast<size_t>(z_.numel()), 0.0f));  // bound even when sigma = 0

  // Evenly spaced timesteps T-1 ... 0 (rounded), strictly decreasing.
  for (int i = 0; i < options.steps; ++i) {
    int t = static_cast<int>(std::llround(double(T - 1) * (options.steps - 1 - i) / std::max(1, options.steps - 1)));
    if (options.steps == 1) t = T - 1;
    if (timesteps_.empty() || t < timesteps_.back()) timesteps_.push_back(t);
  }

  seq_ = std::make_unique<CommandSequence>(ctx);
  CommandSequence& seq = *seq_;
  uint64_t per_step = static_cast<uint64_t>(x_.numel());
  ops::random_normal(seq, keys_, x_, {0, 0});  // x_T
  for (size_t i = 0; i < timesteps_.size(); ++i) {
    int t = timesteps_[i];
    double ab_prev = i + 1 < timesteps_.size() ? schedule_.alpha_bar(timesteps_[i + 1]) : 1.0;
    seq.fill(unet_->timesteps(), float(t));
    seq.copy(x_, unet_->input());
    unet_->record_forward(seq);
    auto c = ops::ddim_coefficients(schedule_.alpha_bar(t), ab_prev, i + 1 < timesteps_.size() ? options.eta : 0.0);
    if (c.sigma > 0) ops::random_normal(seq, keys_, z_, {per_step * (i + 1), 0});
    ops::ddim_step(seq, x_, unet_->output(), z_, c, config.prediction, options.clip_x0);
  }
  seq.finish();
}

DdimSampler::~DdimSampler() = default;

std::vector<float> DdimSampler::sample(uint64_t seed, std::span<const uint32_t> labels) {
  const int64_t n = x_.dim(0);
  if (config_.num_classes > 0) {
    if (static_cast<int64_t>(labels.size()) != n)
      throw ShapeError("sampler: " + std::to_string(labels.size()) + " labels for a batch of " + std::to_string(n));
    for (uint32_t l : labels)
      if (l > static_cast<uint32_t>(config_.num_classes))
        throw Error("sampler: label " + std::to_string(l) + " out of range (" + std::to_string(config_.num_classes) +
                    " classes, " + std::to_string(config_.num_classes) + " = unconditional)");
    upload_u32(unet_->labels(), std::vector<uint32_t>(labels.begin(), labels.end()));
  }
  upload_u32(keys_, rng::key_words(seed, kSamplerNoiseStream));
  seq_->run();
  return download_f32(x_);
}

}  // namespace tessera
