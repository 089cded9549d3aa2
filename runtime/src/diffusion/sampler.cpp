#include "tessera/sampler.hpp"

#include <cmath>

#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/diffusion.hpp"
#include "tessera/ops/random.hpp"
#include "tessera/rng.hpp"
#include "tessera/unet.hpp"

namespace tessera {

Sampler::Sampler(Context& ctx, const UNetConfig& config, const ParameterSet& weights, int batch, int height,
                 int width, const SamplerOptions& options)
    : Sampler(ctx, config,
              [&](int model_batch) -> std::unique_ptr<Denoiser> {
                return std::make_unique<UNet>(ctx, config, weights, model_batch, height, width, /*training=*/false);
              },
              batch, height, width, options) {}

Sampler::Sampler(Context& ctx, const UNetConfig& config, const DenoiserFactory& factory, int batch, int height,
                 int width, const SamplerOptions& options)
    : config_(config), options_(options), schedule_(config.schedule, config.timesteps), batch_(batch),
      height_(height), width_(width) {
  if (batch < 1) throw Error("sampler: batch must be at least 1");
  const int multiple = config.size_multiple();
  if (height < 1 || width < 1 || height % multiple || width % multiple)
    throw ShapeError("sampler: size " + std::to_string(width) + "x" + std::to_string(height) +
                     " is not a multiple of " + std::to_string(multiple) + " (the model has " +
                     std::to_string(config.levels()) + " levels)");
  if (!(options.guidance >= 0 && options.guidance <= 100)) throw Error("sampler: guidance must be in [0, 100]");
  if (config.num_classes == 0 && (options.guidance != 1.0 || options.force_guided_batch))
    throw Error("sampler: classifier-free guidance needs a class-conditional model; this one is unconditional");
  if (!options.init_image && options.strength != 1.0)
    throw Error("sampler: strength applies to img2img only (give an init image)");
  timesteps_ = sampler_timesteps(config.timesteps, options.steps, options.init_image ? options.strength : 1.0);
  // Validates eta and the step times before anything is allocated.
  for (size_t i = 0; i < timesteps_.size(); ++i)
    step_coefficients(schedule_, options.kind, {timesteps_[i], -1, -1}, options.eta, options.variance);
  guided_ = config.num_classes > 0 && (options.guidance != 1.0 || options.force_guided_batch);
  model_ = factory(guided_ ? 2 * batch : batch);

  const Shape image{batch, config.out_channels, height, width};
  const Shape& in_shape = model_->input().shape();
  if (in_shape[1] != config.out_channels || in_shape[2] != height || in_shape[3] != width)
    throw ShapeError("sampler: the model's input and output channels must agree");
  const int64_t n = shape_numel(image);
  const bool needs_image = options.init_image || options.mask;
  arena_ = Arena::measured(ctx, "sampler", [&](Arena& a) {
    x_ = a.allocate(image, DType::F32, "x");
    x0_ = a.allocate(image, DType::F32, "x0");
    z_ = a.allocate(image, DType::F32, "z");
    if (options.mask) zk_ = a.allocate(image, DType::F32, "z_known");
    if (needs_image) known_ = a.allocate({config.out_channels, height, width}, DType::F32, "known");
    if (options.mask) keep_ = a.allocate({height, width}, DType::F32, "keep");
    keys_ = a.allocate({batch, 3}, DType::U32, "sampler_keys");
  });
  upload_f32(z_, std::vector<float>(static_cast<size_t>(n), 0.0f));  // read (times sigma = 0) before any noise
  record(ctx);
}

Sampler::~Sampler() = default;

void Sampler::noise(CommandSequence& seq, const Tensor& out, uint64_t slot, bool known_noise) const {
  const uint64_t per_image = static_cast<uint64_t>(out.numel() / batch_);
  for (int k = 0; k < batch_; ++k)
    ops::random_normal(seq, keys_, out.batch_slice(k, 1),
                       {slot * 2 * per_image + (known_noise ? per_image : 0), static_cast<uint32_t>(k)});
}

void Sampler::record(Context& ctx) {
  const Tensor* keep = options_.mask ? &keep_ : nullptr;
  start_seq_ = std::make_unique<CommandSequence>(ctx);
  CommandSequence& s = *start_seq_;
  s.mark("begin");
  if (options_.init_image) {  // img2img: x = a_t0 init + b_t0 z (the input itself when no step is left)
    noise(s, z_, 0, false);
    double ab = timesteps_.empty() ? 1.0 : schedule_.alpha_bar(timesteps_.front());
    ops::sampler_blend_known(s, x_, known_, z_, nullptr, std::sqrt(ab), std::sqrt(1 - ab));
  } else {
    noise(s, x_, 0, false);
    if (options_.mask) {
      noise(s, zk_, 0, true);
      double ab = schedule_.alpha_bar(timesteps_.front());
      ops::sampler_blend_known(s, x_, known_, zk_, keep, std::sqrt(ab), std::sqrt(1 - ab));
    }
  }
  s.copy(x_, x0_);  // the preview before the first step
  s.mark("end");
  s.finish();

  const Tensor& input = model_->input();
  const ops::SamplerStepFlags flags{config_.prediction, options_.clip_x0, guided_};
  for (size_t i = 0; i < timesteps_.size(); ++i) {
    auto seq = std::make_unique<CommandSequence>(ctx);
    StepTimes times = sampler_step_times(timesteps_, i, options_.kind, options_.lower_order_final);
    StepCoefficients c = step_coefficients(schedule_, options_.kind, times, options_.eta, options_.variance);
    seq->mark("begin");
    seq->fill(model_->timesteps(), float(times.t));
    seq->copy(x_, input.batch_slice(0, batch_));
    if (guided_) seq->copy(x_, input.batch_slice(batch_, batch_));
    model_->record_forward(*seq);
    if (c.sigma > 0) noise(*seq, z_, i + 1, false);
    ops::sampler_step(*seq, x_, model_->output(), z_, x0_, c, options_.guidance, flags);
    if (options_.mask) {
      noise(*seq, zk_, i + 1, true);
      ops::sampler_blend_known(*seq, x_, known_, zk_, keep, c.a_prev, c.b_prev);
    }
    seq->mark("end");
    seq->finish();
    step_seqs_.push_back(std::move(seq));
  }
}

void Sampler::start(const SampleRequest& r) {
  const size_t n = static_cast<size_t>(batch_);
  if (r.seeds.size() != n)
    throw ShapeError("sampler: " + std::to_string(r.seeds.size()) + " seeds for a batch of " + std::to_string(n));
  if (config_.num_classes > 0) {
    if (r.labels.size() != n)
      throw ShapeError("sampler: " + std::to_string(r.labels.size()) + " labels for a batch of " + std::to_string(n));
    std::vector<uint32_t> labels(r.labels.begin(), r.labels.end());
    for (uint32_t l : labels)
      if (l > static_cast<uint32_t>(config_.num_classes))
        throw Error("sampler: label " + std::to_string(l) + " out of range (" + std::to_string(config_.num_classes) +
                    " classes, " + std::to_string(config_.num_classes) + " = unconditional)");
    if (guided_) labels.insert(labels.end(), n, static_cast<uint32_t>(config_.num_classes));
    upload_u32(model_->labels(), labels);
  }
  const size_t image = static_cast<size_t>(config_.out_channels) * height_ * width_;
  if (known_.valid()) {
    if (r.image.size() != image)
      throw ShapeError("sampler: the " + std::string(options_.init_image ? "init" : "known") + " image has " +
                       std::to_string(r.image.size()) + " values, expected " + std::to_string(image));
    upload_f32(known_, std::vector<float>(r.image.begin(), r.image.end()));
  } else if (!r.image.empty()) {
    throw Error("sampler: an image was given but the sampler was built without img2img or inpainting");
  }
  if (keep_.valid()) {
    if (r.keep.size() != static_cast<size_t>(height_) * width_)
      throw ShapeError("sampler: the mask has " + std::to_string(r.keep.size()) + " values, expected " +
                       std::to_string(height_ * width_));
    for (float k : r.keep)
      if (!(k >= 0 && k <= 1)) throw Error("sampler: mask values must be in [0, 1]");
    upload_f32(keep_, std::vector<float>(r.keep.begin(), r.keep.end()));
  } else if (!r.keep.empty()) {
    throw Error("sampler: a mask was given but the sampler was built without inpainting");
  }
  std::vector<uint32_t> keys;
  for (uint64_t seed : r.seeds)
    for (uint32_t w : rng::key_words(seed, kSamplerNoiseStream)) keys.push_back(w);
  upload_u32(keys_, keys);
  start_seq_->run();
  next_step_ = 0;
  started_ = true;
  last_step_ms_ = 0;
}

bool Sampler::step() {
  if (!started_) throw Error("sampler: step() before start()");
  if (next_step_ >= step_seqs_.size()) return false;
  CommandSequence& seq = *step_seqs_[next_step_++];
  seq.run();
  last_step_ms_ = 0;
  for (const auto& t : seq.timings()) last_step_ms_ += t.ms;
  return true;
}

std::vector<float> Sampler::image() const { return download_f32(x_); }
std::vector<float> Sampler::preview() const { return download_f32(x0_); }

std::vector<float> Sampler::sample(const SampleRequest& request) {
  start(request);
  while (step()) {
  }
  return image();
}

}  // namespace tessera
