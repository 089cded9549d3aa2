#include "tessera/training_step.hpp"

#include <algorithm>
#include <cmath>

#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/adamw.hpp"
#include "tessera/ops/diffusion.hpp"
#include "tessera/ops/ema.hpp"
#include "tessera/ops/grad_norm.hpp"
#include "tessera/ops/mse_loss.hpp"
#include "tessera/ops/random.hpp"
#include "tessera/rng.hpp"

namespace tessera {

TrainingStep::TrainingStep(Context& ctx, const UNetConfig& config, int batch, int resolution,
                           const TrainHyperParams& hp)
    : ctx_(ctx), config_(config), batch_(batch), resolution_(resolution), hp_(hp),
      schedule_(config.schedule, config.timesteps) {
  if (batch <= 0) throw Error("training: batch must be positive");
  if (!(hp.label_dropout >= 0 && hp.label_dropout <= 1)) throw Error("training: label dropout must be in [0, 1]");
  if (!(hp.lr > 0)) throw Error("training: learning rate must be positive");
  UNet::declare_parameters(config_, params_);
  params_.allocate(ctx, /*with_grads=*/true);
  unet_ = std::make_unique<UNet>(ctx, config_, params_, batch, resolution, resolution, /*training=*/true);

  const Shape image{batch, config.channels(), resolution, resolution};
  const int64_t flat = params_.flat_elements();
  int64_t mse_scratch = ops::mse_loss_scratch_size(shape_numel(image));
  std::vector<Tensor> grads{params_.flat_grads()};
  int64_t norm_scratch = ops::grad_norm_scratch_size(grads);
  arena_ = Arena::measured(ctx, "training-step", [&](Arena& a) {
    x0_ = a.allocate(image, DType::F32, "x0");
    eps_ = a.allocate(image, DType::F32, "eps");
    target_ = a.allocate(image, DType::F32, "target");
    coefs_ = a.allocate({batch, 2}, DType::F32, "noising_coefs");
    loss_weights_ = a.allocate({batch}, DType::F32, "loss_weights");
    loss_ = a.allocate({1}, DType::F32, "loss");
    loss_scratch_ = a.allocate({mse_scratch}, DType::F32, "loss_scratch");
    norm_ = a.allocate({ops::kGradNormResultSize}, DType::F32, "grad_norm");
    norm_scratch_ = a.allocate({norm_scratch}, DType::F32, "grad_norm_scratch");
    keys_ = a.allocate({3}, DType::U32, "noise_key");
    hyper_ = a.allocate({ops::kOptimizerBlockSize}, DType::F32, "optimizer_block");
    ema_ = a.allocate({flat}, DType::F32, "ema");
    adam_m_ = a.allocate({flat}, DType::F32, "adam_m");
    adam_v_ = a.allocate({flat}, DType::F32, "adam_v");
  });
  initialize(hp.seed);
  record();
}

TrainingStep::~TrainingStep() = default;

void TrainingStep::record(bool profile) {
  seq_ = std::make_unique<CommandSequence>(ctx_);
  CommandSequence& seq = *seq_;
  seq.mark("start");
  if (profile) seq.profile_each_dispatch();
  ops::random_normal(seq, keys_, eps_);
  ops::diffusion_noise(seq, x0_, eps_, coefs_, unet_->input(), target_, config_.prediction == Prediction::V);
  seq.mark("noise");
  unet_->record_forward(seq);
  seq.mark("forward");
  ops::mse_loss_forward(seq, unet_->output(), target_, &loss_weights_, loss_, loss_scratch_);
  ops::mse_loss_backward(seq, unet_->output(), target_, &loss_weights_, unet_->output_grad());
  unet_->record_backward(seq);
  seq.mark("backward");
  std::vector<Tensor> grads{params_.flat_grads()};
  float max_norm = hp_.grad_clip > 0 ? float(hp_.grad_clip) : std::numeric_limits<float>::infinity();
  ops::grad_norm(seq, grads, norm_, norm_scratch_, max_norm);
  std::vector<ops::AdamWState> states{{params_.flat_values(), params_.flat_grads(), adam_m_, adam_v_}};
  ops::adamw_step(seq, states, hyper_, &norm_);
  std::vector<Tensor> p{params_.flat_values()}, e{ema_};
  ops::ema_update(seq, p, e, hyper_);
  seq.mark("optimizer");
  seq.finish();
}

void TrainingStep::initialize(uint64_t seed) {
  std::vector<float> flat = params_.initial_values(seed, kInitStream);
  params_.upload_flat(flat);
  upload_f32(ema_, flat);
  std::vector<float> zeros(flat.size(), 0.0f);
  upload_f32(adam_m_, zeros);
  upload_f32(adam_v_, zeros);
  step_ = 0;
}

double TrainingStep::learning_rate(int64_t t) const {
  if (hp_.warmup_steps <= 0) return hp_.lr;
  return hp_.lr * std::min(1.0, double(t) / double(hp_.warmup_steps));
}

double TrainingStep::ema_decay(int64_t t) const { return std::min(hp_.ema_decay, (1.0 + t) / (10.0 + t)); }

TrainingStep::Draws TrainingStep::draws(int64_t t, std::span<const uint32_t> labels) const {
  const size_t n = static_cast<size_t>(batch_);
  Draws d{std::vector<int>(n), std::vector<uint32_t>(labels.begin(), labels.end())};
  for (size_t i = 0; i < n; ++i) {
    const uint64_t index = static_cast<uint64_t>(t) * n + i;
    float u = rng::uniform(hp_.seed, kTimestepStream, index);
    d.timesteps[i] = std::min(config_.timesteps - 1, static_cast<int>(u * config_.timesteps));
    if (i < labels.size() && rng::uniform(hp_.seed, kLabelDropoutStream, index) < hp_.label_dropout)
      d.labels[i] = static_cast<uint32_t>(config_.num_classes);
  }
  return d;
}

StepResult TrainingStep::run(std::span<const float> images, std::span<const uint32_t> labels) {
  const int64_t n = batch_;
  if (static_cast<int64_t>(images.size()) != x0_.numel())
    throw ShapeError("training step: batch has " + std::to_string(images.size()) + " values, expected " +
                     std::to_string(x0_.numel()) + " (" + shape_string(x0_.shape()) + ")");
  const int64_t t = step_ + 1;
  const bool conditional = config_.num_classes > 0;
  if (conditional && static_cast<int64_t>(labels.size()) != n)
    throw ShapeError("training step: " + std::to_string(labels.size()) + " labels for a batch of " + std::to_string(n));
  const Draws d = draws(t, conditional ? labels : std::span<const uint32_t>());
  std::vector<float> coefs(2 * n), weights(n), timesteps(n);
  for (int64_t i = 0; i < n; ++i) {
    if (conditional && labels[i] > static_cast<uint32_t>(config_.num_classes))
      throw Error("training step: label " + std::to_string(labels[i]) + " out of range for " +
                  std::to_string(config_.num_classes) + " classes");
    const int ts = d.timesteps[i];
    timesteps[i] = float(ts);
    coefs[2 * i] = float(schedule_.sqrt_alpha_bar(ts));
    coefs[2 * i + 1] = float(schedule_.sqrt_one_minus_alpha_bar(ts));
    weights[i] = float(schedule_.min_snr_weight(ts, hp_.min_snr_gamma, config_.prediction));
  }
  if (conditional) upload_u32(unet_->labels(), d.labels);
  upload_f32(x0_, images);
  upload_f32(coefs_, coefs);
  upload_f32(loss_weights_, weights);
  upload_f32(unet_->timesteps(), timesteps);
  upload_u32(keys_, rng::key_words(hp_.seed, kNoiseStreamBase + static_cast<uint32_t>(t)));
  ops::OptimizerHyperParams h;
  h.lr = learning_rate(t);
  h.beta1 = hp_.beta1;
  h.beta2 = hp_.beta2;
  h.eps = hp_.adam_eps;
  h.weight_decay = hp_.weight_decay;
  h.step = t;
  h.ema_decay = ema_decay(t);
  upload_f32(hyper_, ops::pack_optimizer_block(h));
  seq_->run();
  step_ = t;
  auto loss = download_f32(loss_);
  auto norm = download_f32(norm_);
  return {t, loss[0], norm[ops::kGradNormIndex], h.lr};
}

TrainingStep::State TrainingStep::save_state() const {
  return {step_, params_.download_flat(), download_f32(ema_), download_f32(adam_m_), download_f32(adam_v_)};
}

void TrainingStep::load_state(const State& s) {
  size_t n = static_cast<size_t>(params_.flat_elements());
  if (s.weights.size() != n || s.ema.size() != n || s.adam_m.size() != n || s.adam_v.size() != n)
    throw Error("training state does not match this model's parameter layout (" + std::to_string(n) + " values)");
  params_.upload_flat(s.weights);
  upload_f32(ema_, s.ema);
  upload_f32(adam_m_, s.adam_m);
  upload_f32(adam_v_, s.adam_v);
  step_ = s.step;
}

}  // namespace tessera
