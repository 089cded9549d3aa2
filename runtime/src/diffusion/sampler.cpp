#include "tessera/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/diffusion.hpp"
#include "tessera/ops/random.hpp"
#include "tessera/rng.hpp"
#include "tessera/unet.hpp"

namespace tessera {

namespace {

// The conditional and null passes run as one double batch.
bool guided_batch(const UNetConfig& config, const SamplerOptions& options) {
  return config.num_classes > 0 && (options.guidance != 1.0 || options.force_guided_batch);
}

// The sampler's own tensors (beside the U-Net's), laid out in `a`: what its arena holds and
// what Sampler::cost measures.
struct SamplerTensors {
  Tensor x, x0, z, zk, known, keep, keys;
};
SamplerTensors lay_out_sampler_tensors(Arena& a, const UNetConfig& config, int batch, int height, int width,
                                       const SamplerOptions& options) {
  const Shape image{batch, config.channels(), height, width};
  SamplerTensors t;
  t.x = a.allocate(image, DType::F32, "x");
  t.x0 = a.allocate(image, DType::F32, "x0");
  t.z = a.allocate(image, DType::F32, "z");
  if (options.mask) t.zk = a.allocate(image, DType::F32, "z_known");
  if (options.init_image || options.mask) t.known = a.allocate({config.channels(), height, width}, DType::F32, "known");
  if (options.mask) t.keep = a.allocate({height, width}, DType::F32, "keep");
  t.keys = a.allocate({batch, 3}, DType::U32, "sampler_keys");
  return t;
}

}  // namespace

void check_sample_size(const UNetConfig& config, int64_t width, int64_t height) {
  const std::string size = "size " + std::to_string(width) + "x" + std::to_string(height);
  const int multiple = config.size_multiple();
  if (width < 1 || height < 1 || width > kMaxSampleSize || height > kMaxSampleSize)
    throw ShapeError(size + " is outside 1.." + std::to_string(kMaxSampleSize) + " per side");
  if (width % multiple || height % multiple)
    throw ShapeError(size + " is not a multiple of " + std::to_string(multiple) + " (the model has " +
                     std::to_string(config.levels()) + " levels)");
}

void SamplerOptions::validate(const UNetConfig& config) const {
  auto outside = [](const char* field, double value, double lo, double hi) {
    std::ostringstream text;
    text << field << " " << value << " is outside [" << lo << ", " << hi << "]";
    return Error(text.str());
  };
  const int max_steps = std::min(kMaxSamplerSteps, config.timesteps);
  if (steps < 1 || steps > max_steps) throw outside("steps", steps, 1, max_steps);
  if (!(guidance >= 0 && guidance <= kMaxGuidance)) throw outside("guidance", guidance, 0, kMaxGuidance);
  if (config.num_classes == 0 && (guidance != 1.0 || force_guided_batch))
    throw Error("guidance needs a class-conditional model (classifier-free guidance); this one is unconditional");
  if (!(eta >= 0 && eta <= 1)) throw outside("eta", eta, 0, 1);
  if (eta != 0 && kind != SamplerKind::Ddim) throw Error("eta applies to the ddim sampler only");
  if (!(strength >= 0 && strength <= 1)) throw outside("strength", strength, 0, 1);
  if (!init_image && strength != 1.0) throw Error("strength applies to img2img only (give an init image)");
}

void GenerationRequest::validate(const ModelInfo& model) const {
  options.validate(model.config);
  check_sample_size(model.config, width, height);
  resolve_class(model, label);
  normals.validate();
}

PlanCost Sampler::cost(Context& ctx, const UNetConfig& config, const ParameterSet& weights, int batch, int height,
                       int width, const SamplerOptions& options) {
  check_sample_size(config, width, height);
  const int model_batch = guided_batch(config, options) ? 2 * batch : batch;
  PlanCost cost = UNet::cost(ctx, config, weights, model_batch, height, width, /*training=*/false);
  auto measure = Arena::measuring(ctx, "sampler-plan");
  lay_out_sampler_tensors(*measure, config, batch, height, width, options);
  const VkDeviceSize own = measure->peak();
  cost.total_bytes += own;
  cost.largest_allocation = std::max(cost.largest_allocation, own);  // (its tensors are the U-Net input's size)
  return cost;
}

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
  check_sample_size(config, width, height);
  options.validate(config);
  timesteps_ = sampler_timesteps(config.timesteps, options.steps, options.strength);  // 1 unless img2img
  guided_ = guided_batch(config, options);
  model_ = factory(guided_ ? 2 * batch : batch);

  const Shape image{batch, config.channels(), height, width};
  const Shape& in_shape = model_->input().shape();
  if (in_shape[1] != config.channels() || in_shape[2] != height || in_shape[3] != width)
    throw ShapeError("sampler: the model's input and output channels must agree");
  const int64_t n = shape_numel(image);
  arena_ = Arena::measured(ctx, "sampler", [&](Arena& a) {
    SamplerTensors t = lay_out_sampler_tensors(a, config, batch, height, width, options);
    x_ = t.x, x0_ = t.x0, z_ = t.z, zk_ = t.zk, known_ = t.known, keep_ = t.keep, keys_ = t.keys;
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
  const ops::SamplerStepFlags flags{config_.prediction == Prediction::V, options_.clip_x0, guided_};
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
  load(r);
  start_seq_->run();
}

void Sampler::load(const SampleRequest& r) {
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
  const size_t image = static_cast<size_t>(config_.channels()) * height_ * width_;
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
  next_step_ = 0;
  started_ = true;
  last_step_ms_ = 0;
}

bool Sampler::step() {
  if (!started_) throw Error("sampler: step() before start()");
  if (next_step_ >= step_seqs_.size()) return false;
  step_seqs_[next_step_]->run();
  step_completed();
  return true;
}

void Sampler::step_completed() {
  if (!started_ || next_step_ >= step_seqs_.size()) throw Error("sampler: step_completed() without a step to complete");
  const CommandSequence& seq = *step_seqs_[next_step_++];
  last_step_ms_ = 0;
  for (const auto& t : seq.timings()) last_step_ms_ += t.ms;
}

namespace {

// Throws naming `what` and the first sample (of those `values` hold, `batch` in all, made of
// `samples` distinct ones: a guided batch runs each sample twice) with a NaN or an infinity.
void require_finite(const char* what, const std::vector<float>& values, int batch, int samples) {
  const size_t per_sample = values.size() / static_cast<size_t>(batch);
  for (int k = 0; k < batch; ++k) {
    auto first = values.begin() + static_cast<std::ptrdiff_t>(per_sample * k);
    auto bad = std::count_if(first, first + static_cast<std::ptrdiff_t>(per_sample),
                             [](float v) { return !std::isfinite(v); });
    if (bad)
      throw Error("sampler: " + std::string(what) + " of sample " + std::to_string(k % samples) + " of " +
                  std::to_string(samples) + " has " + std::to_string(bad) + " NaN or infinite values of " +
                  std::to_string(per_sample) + "; the model's output is not finite, so no image is made");
  }
}

}  // namespace

std::vector<float> Sampler::image() const {
  std::vector<float> x = download_f32(x_);
  require_finite("the result", x, batch_, batch_);
  // The x0 clip maps NaN to a bound, so a model whose output is NaN (non-finite weights, an
  // overflowing forward pass) yields finite black images; its last output shows it.
  if (next_step_ > 0) {
    const Tensor& out = model_->output();
    require_finite("the model output at the last step", download_f32(out), static_cast<int>(out.dim(0)), batch_);
  }
  return x;
}

std::vector<float> Sampler::preview() const { return download_f32(x0_); }

std::vector<float> Sampler::sample(const SampleRequest& request) {
  start(request);
  while (step()) {
  }
  return image();
}

}  // namespace tessera
