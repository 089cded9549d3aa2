// TextureGenerator on the C++ runtime: a Context adopting the viewer's device, the model's
// weights, and one Sampler plan that is rebuilt only when the size or sampler options change
// (a new seed or class reuses the recorded command buffers).
#include "texture_generator.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>

#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/image_io.hpp"
#include "tessera/model_file.hpp"
#include "tessera/sampler.hpp"
#include "tessera/unet.hpp"

namespace tessera::viewer {

namespace {

uint32_t class_label(const ModelSummary& model, const std::string& wanted) {
  for (size_t i = 0; i < model.classes.size(); ++i)
    if (model.classes[i] == wanted) return static_cast<uint32_t>(i);
  char* end = nullptr;
  long index = std::strtol(wanted.c_str(), &end, 10);
  if (!wanted.empty() && *end == '\0' && index >= 0 && index < static_cast<long>(model.classes.size()))
    return static_cast<uint32_t>(index);
  std::string list;
  for (size_t i = 0; i < model.classes.size(); ++i)
    list += (i ? ", " : "") + std::to_string(i) + " " + model.classes[i];
  throw Error("unknown class '" + wanted + "'; this model's classes: " + list);
}

bool same_plan(const SamplerOptions& a, const SamplerOptions& b) {
  return a.kind == b.kind && a.steps == b.steps && a.eta == b.eta && a.guidance == b.guidance &&
         a.init_image == b.init_image && a.strength == b.strength;
}

}  // namespace

struct TextureGenerator::Impl {
  std::unique_ptr<Context> ctx;
  std::optional<LoadedModel> loaded;
  ModelSummary summary;
  std::unique_ptr<Sampler> sampler;
  SamplerOptions plan_options;
  int plan_width = 0, plan_height = 0;
  bool active = false;
  Image init;  // kept alive while the sampler may read it (start() uploads it)
};

TextureGenerator::TextureGenerator(const HostDevice& device) : impl_(std::make_unique<Impl>()) {
  ExternalDevice ext;
  ext.instance = device.instance;
  ext.physical_device = device.physical_device;
  ext.device = device.device;
  ext.queue_family = device.queue_family;
  ext.queue_index = device.queue_index;
  ext.shader_float16_enabled = device.shader_float16_enabled;
  ext.storage_16bit_enabled = device.storage_16bit_enabled;
  // The viewer submits from one thread only, so the shared queue needs no lock.
  ContextOptions options;
  options.validation_from_env = false;  // validation belongs to the host's instance
  impl_->ctx = Context::adopt(ext, options);
}

TextureGenerator::~TextureGenerator() {
  impl_->sampler.reset();
  impl_->loaded.reset();
}

std::string TextureGenerator::device_description() const {
  const DeviceInfo& info = impl_->ctx->info();
  return info.name + " (" + kernel_variant_name(impl_->ctx->variant()) + " kernels)";
}

const ModelSummary& TextureGenerator::load_model(const std::string& path) {
  LoadedModel model = tessera::load_model(*impl_->ctx, path);  // throws naming the file's problems
  cancel();
  impl_->sampler.reset();
  impl_->loaded.reset();
  ModelSummary s;
  s.path = path;
  s.classes = model.info.classes;
  if (s.classes.empty())  // class-conditional models without names: indices
    for (int i = 0; i < model.info.config.num_classes; ++i) s.classes.push_back(std::to_string(i));
  s.train_resolution = model.info.config.train_resolution;
  s.size_multiple = model.info.config.size_multiple();
  s.parameter_count = model.params->parameter_count();
  impl_->loaded.emplace(std::move(model));
  impl_->summary = s;
  return impl_->summary;
}

const ModelSummary& TextureGenerator::model() const { return impl_->summary; }
bool TextureGenerator::has_model() const { return impl_->loaded.has_value(); }

void TextureGenerator::submit(const GenerationRequest& request) {
  if (!impl_->loaded) throw Error("no model loaded");
  const UNetConfig& config = impl_->loaded->info.config;
  SamplerOptions o;
  auto kind = parse_sampler_kind(request.sampler);
  if (!kind) throw Error("unknown sampler '" + request.sampler + "' (ddpm, ddim or dpmpp2m)");
  o.kind = *kind;
  o.steps = std::clamp(request.steps, 1, 1000);
  o.eta = std::clamp(request.eta, 0.0, 1.0);
  o.guidance = config.num_classes > 0 ? std::clamp(request.guidance, 0.0, 100.0) : 1.0;
  int width = request.width > 0 ? request.width : config.train_resolution;
  int height = request.height > 0 ? request.height : config.train_resolution;
  const int multiple = config.size_multiple();
  if (width % multiple || height % multiple || width > 4096 || height > 4096)
    throw Error("size " + std::to_string(width) + "x" + std::to_string(height) + " is not a multiple of " +
                std::to_string(multiple) + " (or above 4096)");
  Image init;
  if (!request.init_image.empty()) {
    init = load_image(request.init_image);
    if (init.width != width || init.height != height)
      throw Error("init image " + request.init_image + " is " + std::to_string(init.width) + "x" +
                  std::to_string(init.height) + " but the output size is " + std::to_string(width) + "x" +
                  std::to_string(height));
    o.init_image = true;
    o.strength = std::clamp(request.strength, 0.0, 1.0);
  }
  uint32_t label = config.num_classes > 0 ? class_label(impl_->summary, request.class_name) : 0;

  if (!impl_->sampler || width != impl_->plan_width || height != impl_->plan_height ||
      !same_plan(o, impl_->plan_options)) {
    impl_->sampler.reset();  // free the old plan's memory before recording the new one
    impl_->sampler = std::make_unique<Sampler>(*impl_->ctx, config, *impl_->loaded->params, 1, height, width, o);
    impl_->plan_options = o;
    impl_->plan_width = width;
    impl_->plan_height = height;
  }
  impl_->init = std::move(init);
  uint64_t seed = request.seed;
  std::span<const uint64_t> seeds(&seed, 1);
  std::span<const uint32_t> labels(&label, 1);
  impl_->sampler->start({seeds, labels, impl_->init.planes, {}});
  impl_->active = true;
}

TickReport TextureGenerator::tick(double budget_ms) {
  TickReport report;
  Sampler* s = impl_->sampler.get();
  if (!impl_->active || !s) return report;
  auto t0 = std::chrono::steady_clock::now();
  // GPU time is what the budget bounds (a game shares the GPU); where the queue has no
  // timestamps the host time of the step stands in for it.
  while (!s->done()) {
    auto step_start = std::chrono::steady_clock::now();
    s->step();
    double host_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - step_start).count();
    ++report.steps_run;
    report.gpu_ms += s->last_step_gpu_ms() > 0 ? s->last_step_gpu_ms() : host_ms;
    // Stop when the next step would likely overrun the budget.
    double per_step = report.gpu_ms / report.steps_run;
    if (report.gpu_ms + per_step > budget_ms) break;
  }
  report.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

GenerationProgress TextureGenerator::progress() const {
  GenerationProgress p;
  const Sampler* s = impl_->sampler.get();
  p.active = impl_->active && s;
  if (!p.active) return p;
  p.done = s->done();
  p.steps_done = s->steps_done();
  p.steps_total = s->steps_total();
  p.last_step_gpu_ms = s->last_step_gpu_ms();
  p.width = impl_->plan_width;
  p.height = impl_->plan_height;
  return p;
}

bool TextureGenerator::read_pixels(std::vector<uint8_t>& rgba, int& width, int& height) const {
  const Sampler* s = impl_->sampler.get();
  if (!impl_->active || !s) return false;
  width = impl_->plan_width;
  height = impl_->plan_height;
  // Before the first step the x0 estimate is not written yet: show the start (noise or the
  // noised init image) instead.
  std::vector<float> planes = s->done() || s->steps_done() == 0 ? s->image() : s->preview();
  rgba = planes_to_rgba8(planes, width, height);
  return true;
}

void TextureGenerator::cancel() { impl_->active = false; }

uint64_t TextureGenerator::device_memory_bytes() const {
  uint64_t bytes = 0;
  if (impl_->loaded) bytes += static_cast<uint64_t>(impl_->loaded->params->flat_elements()) * sizeof(float);
  if (const Sampler* s = impl_->sampler.get()) {
    if (auto* unet = dynamic_cast<const UNet*>(&s->denoiser())) bytes += unet->activation_bytes();
    bytes += static_cast<uint64_t>(s->image_tensor().span_bytes()) * 3;  // x, x0 and the noise
  }
  return bytes;
}

}  // namespace tessera::viewer
