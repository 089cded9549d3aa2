// TextureGenerator: everything the viewer asks of Tessera, behind one small interface - load a
// model, submit a generation, advance it within a per-frame GPU budget, read the x0 preview or
// the result as RGBA8 pixels, cancel. It is implemented on the C API alone (tessera.h,
// libtessera.so), the way an engine hosts Tessera; the viewer includes no other Tessera header:
//   constructor        tsr_context_create with desc.vulkan = HostDevice (features: the
//                      TSR_VULKAN_FEATURE_* bits for float16 / 16-bit storage), no queue lock
//                      (one thread); the viewer's messenger already sees validation output
//   load_model         tsr_model_load + tsr_model_get_info + tsr_model_get_class_name
//   find_class         tsr_model_find_class
//   submit             tsr_generate_submit (sampler names -> TSR_SAMPLER_*; the init PNG decoded
//                      here with stb_image and passed as init_rgba, strength as given, 0
//                      included), then tsr_job_cancel/destroy of the previous job
//   tick               tsr_tick(ctx, budget_ms, &stats): steps_run, gpu_ms
//   progress           tsr_job_get_status + tsr_job_get_progress; last_step_gpu_ms from the last
//                      tick's gpu_ms / steps_run
//   read_pixels        tsr_job_read_preview while running (TSR_NOT_READY before the first step:
//                      returns false), tsr_job_read_pixels once done
//   device_memory      tsr_context_get_memory: device_bytes_in_use
// The result stays a CPU readback rather than tsr_job_get_vk_image: the viewer keeps the pixels
// anyway (recent results, Save PNG, screenshots), and previews only exist as pixels.
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "material_set.hpp"

namespace tessera::viewer {

// The host's device, which Tessera adopts (it never creates a second instance or device). It
// mirrors tsr_vulkan_device on purpose: the rest of the viewer includes no Tessera header.
struct HostDevice {
  VkInstance instance = VK_NULL_HANDLE;
  VkPhysicalDevice physical_device = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  uint32_t queue_family = 0;
  uint32_t queue_index = 0;
  bool shader_float16_enabled = false;
  bool storage_16bit_enabled = false;
};

struct ModelSummary {
  std::string path;
  std::vector<std::string> classes;  // empty: unconditional
  int train_resolution = 0;
  int size_multiple = 1;
  int64_t parameter_count = 0;
  uint32_t map_mask = 1;  // tsr_model_info.map_mask: bit 1 << MapKind per map its jobs give
};

// What the viewer asks for, translated into a tsr_generate_desc by submit(); the C API (the
// runtime's GenerationRequest::validate behind it) checks every value.
struct GenerationRequest {
  uint32_t class_index = 0;  // find_class(); 0 on an unconditional model
  uint64_t seed = 0;
  std::string sampler = "dpmpp2m";  // ddpm | ddim | dpmpp2m
  int steps = 25;
  double guidance = 1.0;
  double eta = 0.0;
  int width = 0, height = 0;  // 0: the model's training resolution
  std::string init_image;     // img2img input (PNG); empty: from noise
  double strength = 0.75;
};

struct GenerationProgress {
  bool active = false;  // a generation was submitted and not cancelled
  bool done = false;
  int steps_done = 0;
  int steps_total = 0;
  double last_step_gpu_ms = 0;  // host time of a step where the queue has no timestamps
  int width = 0, height = 0;
  std::string failure;  // set when the generation failed (done is then true)
};

struct TickReport {
  int steps_run = 0;
  double gpu_ms = 0;   // summed GPU time of the steps run (timestamps)
  double wall_ms = 0;  // host time spent in tick, including waits
};

class TextureGenerator {
 public:
  explicit TextureGenerator(const HostDevice& device);
  ~TextureGenerator();
  TextureGenerator(const TextureGenerator&) = delete;
  TextureGenerator& operator=(const TextureGenerator&) = delete;

  std::string device_description() const;
  // Throws with a readable message; the previous model stays loaded on failure.
  const ModelSummary& load_model(const std::string& path);
  const ModelSummary& model() const;
  bool has_model() const;
  // The class a name or decimal index names (tsr_model_find_class); throws naming the classes.
  uint32_t find_class(const std::string& name_or_index) const;

  // Starts a new generation (cancelling the current one). Throws on a bad request with the C
  // API's message (a value outside the runtime's rule, an unreadable init image).
  void submit(const GenerationRequest& request);
  // Runs steps until their GPU time reaches budget_ms; at least one step while work remains.
  TickReport tick(double budget_ms);
  GenerationProgress progress() const;
  // RGBA8, row-major: the x0 estimate while running, the final image once done.
  // Returns false when there is nothing to show.
  bool read_pixels(std::vector<uint8_t>& rgba, int& width, int& height) const;
  // Every map of the finished job (tsr_job_read_map for each bit of map_mask). Returns false
  // until the job is done.
  bool read_maps(MaterialSet& set) const;
  void cancel();

  // Device memory Tessera holds (weights, the running job's plan, results), in bytes.
  uint64_t device_memory_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::viewer
