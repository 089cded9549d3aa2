// TextureGenerator on the C API (tessera.h, libtessera.so), as an engine host uses it: a
// context on the viewer's device, one model, one job at a time ticked once per frame. Nothing
// of the C++ runtime is included here or anywhere else in the viewer.
#include "texture_generator.hpp"

#include <stb/stb_image.h>  // implementation in Debian's libstb

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "tessera.h"

namespace tessera::viewer {

namespace {

// Throws the calling thread's last-error text (it names the tsr_ function) on a failure.
void check(tsr_result r) {
  if (r != TSR_SUCCESS) throw std::runtime_error(tsr_get_last_error());
}

tsr_sampler sampler_of(const std::string& name) {
  if (name == "dpmpp2m") return TSR_SAMPLER_DPMPP_2M;
  if (name == "ddim") return TSR_SAMPLER_DDIM;
  if (name == "ddpm") return TSR_SAMPLER_DDPM;
  throw std::runtime_error("unknown sampler '" + name + "' (ddpm, ddim or dpmpp2m)");
}

// The img2img input as tight RGBA8 rows.
std::vector<uint8_t> load_rgba(const std::string& path, int& width, int& height) {
  int channels = 0;
  stbi_uc* data = stbi_load(path.c_str(), &width, &height, &channels, 4);
  if (!data) throw std::runtime_error("cannot read image " + path + ": " + stbi_failure_reason());
  std::vector<uint8_t> rgba(data, data + size_t(width) * height * 4);
  stbi_image_free(data);
  return rgba;
}

}  // namespace

struct TextureGenerator::Impl {
  tsr_context ctx{0};
  tsr_model model{0};
  tsr_job job{0};
  ModelSummary summary;
  int width = 0, height = 0;    // the job's size
  double last_step_gpu_ms = 0;  // from the last tick that ran steps
  std::string last_log_error;   // the context's last error line (why a job failed)

  static void log(void* user, tsr_log_level level, const char* message) {
    if (level == TSR_LOG_INFO) return;  // the device choice: the panel shows the device
    std::fprintf(stderr, "tessera-viewer: tessera: %s\n", message);
    if (level == TSR_LOG_ERROR) static_cast<Impl*>(user)->last_log_error = message;
  }

  void drop_job() {
    if (!job.id) return;
    tsr_job_cancel(job);  // nothing to report: a finished job is left as it is
    tsr_job_destroy(job);
    job = {0};
  }

  tsr_job_status status() const {
    tsr_job_status s = TSR_JOB_CANCELLED;
    if (job.id) check(tsr_job_get_status(job, &s));
    return s;
  }
};

TextureGenerator::TextureGenerator(const HostDevice& device) : impl_(std::make_unique<Impl>()) {
  tsr_context_desc desc;
  std::memset(&desc, 0, sizeof desc);
  desc.struct_size = sizeof desc;
  desc.vulkan.instance = device.instance;
  desc.vulkan.physical_device = device.physical_device;
  desc.vulkan.device = device.device;
  desc.vulkan.queue_family_index = device.queue_family;
  desc.vulkan.queue_index = device.queue_index;
  if (device.shader_float16_enabled) desc.vulkan.features |= TSR_VULKAN_FEATURE_SHADER_FLOAT16;
  if (device.storage_16bit_enabled) desc.vulkan.features |= TSR_VULKAN_FEATURE_STORAGE_16BIT;
  // The viewer submits from one thread only, so the shared queue needs no lock; validation
  // belongs to the host's instance (its messenger sees Tessera's calls too).
  desc.log = Impl::log;
  desc.log_user_data = impl_.get();
  if (uint32_t v = tsr_get_version(); TSR_VERSION_GET_MAJOR(v) != TSR_VERSION_MAJOR)
    throw std::runtime_error("libtessera has ABI version " + std::to_string(TSR_VERSION_GET_MAJOR(v)) +
                             ", the viewer was built for " + std::to_string(TSR_VERSION_MAJOR));
  check(tsr_context_create(&desc, &impl_->ctx));
}

TextureGenerator::~TextureGenerator() {
  // Destroying the context also destroys its model and job.
  if (impl_->ctx.id) tsr_context_destroy(impl_->ctx);
}

std::string TextureGenerator::device_description() const {
  char name[256];
  check(tsr_context_get_device_name(impl_->ctx, name, sizeof name));
  return name;
}

const ModelSummary& TextureGenerator::load_model(const std::string& path) {
  tsr_model_desc desc;
  std::memset(&desc, 0, sizeof desc);
  desc.struct_size = sizeof desc;
  desc.path = path.c_str();
  tsr_model model{0};
  check(tsr_model_load(impl_->ctx, &desc, &model));  // the message names the file's problem
  try {
    tsr_model_info info;
    std::memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    check(tsr_model_get_info(model, &info));
    ModelSummary s;
    s.path = path;
    for (uint32_t i = 0; i < info.class_count; ++i) {
      char name[256];
      // Class-conditional models without names: indices.
      s.classes.push_back(tsr_model_get_class_name(model, i, name, sizeof name) == TSR_SUCCESS ? std::string(name)
                                                                                               : std::to_string(i));
    }
    s.train_resolution = int(info.train_resolution);
    s.size_multiple = int(info.size_multiple);
    s.parameter_count = int64_t(info.parameter_count);
    s.map_mask = info.map_mask;
    impl_->summary = std::move(s);
  } catch (...) {
    tsr_model_destroy(model);
    throw;
  }
  impl_->drop_job();
  if (impl_->model.id) tsr_model_destroy(impl_->model);
  impl_->model = model;
  return impl_->summary;
}

const ModelSummary& TextureGenerator::model() const { return impl_->summary; }
bool TextureGenerator::has_model() const { return impl_->model.id != 0; }

uint32_t TextureGenerator::find_class(const std::string& name_or_index) const {
  uint32_t index = 0;
  check(tsr_model_find_class(impl_->model, name_or_index.c_str(), &index));
  return index;
}

void TextureGenerator::submit(const GenerationRequest& request) {
  if (!has_model()) throw std::runtime_error("no model loaded");
  const ModelSummary& m = impl_->summary;
  tsr_generate_desc d;
  std::memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.model = impl_->model;
  d.class_index = request.class_index;
  d.seed = request.seed;
  d.sampler = sampler_of(request.sampler);
  d.steps = uint32_t(request.steps);
  if (d.sampler == TSR_SAMPLER_DDIM) d.eta = float(request.eta);  // the panel keeps eta for when DDIM is chosen
  // 0 in the desc means "off" (1); a requested 0 (the null prediction alone) is passed as the
  // smallest positive weight, which computes the same.
  d.guidance = request.guidance == 0 ? std::numeric_limits<float>::min() : float(request.guidance);
  const int width = request.width > 0 ? request.width : m.train_resolution;
  const int height = request.height > 0 ? request.height : m.train_resolution;
  d.width = uint32_t(width);
  d.height = uint32_t(height);
  std::vector<uint8_t> init;
  if (!request.init_image.empty()) {
    int iw = 0, ih = 0;
    init = load_rgba(request.init_image, iw, ih);
    if (iw != width || ih != height)
      throw std::runtime_error("init image " + request.init_image + " is " + std::to_string(iw) + "x" +
                               std::to_string(ih) + " but the output size is " + std::to_string(width) + "x" +
                               std::to_string(height));
    d.init_rgba = init.data();
    d.init_rgba_size = init.size();
    d.strength = float(request.strength);  // 0 is a real strength (the input kept)
  }
  tsr_job job{0};
  check(tsr_generate_submit(impl_->ctx, &d, &job));  // copies init; the old job runs on meanwhile
  impl_->drop_job();
  impl_->job = job;
  impl_->width = width;
  impl_->height = height;
  impl_->last_step_gpu_ms = 0;
  impl_->last_log_error.clear();
}

TickReport TextureGenerator::tick(double budget_ms) {
  TickReport report;
  if (!impl_->job.id) return report;
  auto t0 = std::chrono::steady_clock::now();
  tsr_tick_stats stats;
  std::memset(&stats, 0, sizeof stats);
  stats.struct_size = sizeof stats;
  // GPU time is what the budget bounds (a game shares the GPU); Tessera stands in the host time
  // of a step where the queue has no timestamps.
  check(tsr_tick(impl_->ctx, std::max(budget_ms, 1e-3), &stats));
  report.steps_run = int(stats.steps_run);
  report.gpu_ms = stats.gpu_ms;
  if (stats.steps_run > 0) impl_->last_step_gpu_ms = stats.gpu_ms / stats.steps_run;
  report.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

GenerationProgress TextureGenerator::progress() const {
  GenerationProgress p;
  const tsr_job_status status = impl_->status();
  p.active = status != TSR_JOB_CANCELLED;
  if (!p.active) return p;
  p.done = status == TSR_JOB_DONE || status == TSR_JOB_FAILED;
  if (status == TSR_JOB_FAILED)
    p.failure = impl_->last_log_error.empty() ? std::string("the generation failed") : impl_->last_log_error;
  uint32_t done = 0, total = 0;
  check(tsr_job_get_progress(impl_->job, &done, &total));
  p.steps_done = int(done);
  p.steps_total = int(total);
  p.last_step_gpu_ms = impl_->last_step_gpu_ms;
  p.width = impl_->width;
  p.height = impl_->height;
  return p;
}

bool TextureGenerator::read_pixels(std::vector<uint8_t>& rgba, int& width, int& height) const {
  const tsr_job_status status = impl_->status();
  if (status != TSR_JOB_RUNNING && status != TSR_JOB_DONE) return false;
  width = impl_->width;
  height = impl_->height;
  rgba.resize(size_t(width) * height * 4);
  // The x0 estimate while running (none before the first step), the result once done.
  tsr_result r = status == TSR_JOB_DONE ? tsr_job_read_pixels(impl_->job, rgba.data(), rgba.size(), 0)
                                        : tsr_job_read_preview(impl_->job, rgba.data(), rgba.size(), 0);
  if (r == TSR_NOT_READY) return false;
  check(r);
  return true;
}

bool TextureGenerator::read_maps(MaterialSet& set) const {
  if (impl_->status() != TSR_JOB_DONE) return false;
  set = read_material_maps(impl_->width, impl_->height, impl_->summary.map_mask,
                           [&](MapKind m, void* out, size_t capacity, uint32_t pitch) {
                             check(tsr_job_read_map(impl_->job, tsr_map(m), out, capacity, pitch));
                           });
  return true;
}

void TextureGenerator::cancel() { impl_->drop_job(); }

uint64_t TextureGenerator::device_memory_bytes() const {
  tsr_memory_info info;
  std::memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  check(tsr_context_get_memory(impl_->ctx, &info));
  return info.device_bytes_in_use;
}

}  // namespace tessera::viewer
