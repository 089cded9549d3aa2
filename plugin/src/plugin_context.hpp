// The C++ behind tessera.h: a context's state (its runtime Context, models, job queue, result
// images and timeline semaphore) and the job scheduler that tsr_tick drives. Nothing here
// knows about handles or the C boundary (c_api.cpp); everything is called with the context's
// mutex held.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "tessera.h"
#include "tessera/arena.hpp"
#include "tessera/context.hpp"
#include "tessera/model_file.hpp"
#include "tessera/sampler.hpp"

namespace tessera::plugin {

// An error with the tsr_result the C boundary returns for it.
class ApiError : public std::runtime_error {
 public:
  ApiError(tsr_result code, const std::string& message) : std::runtime_error(message), code_(code) {}
  tsr_result code() const { return code_; }

 private:
  tsr_result code_;
};

struct ContextState;

struct ModelState {
  std::weak_ptr<ContextState> owner;
  uint64_t handle = 0;
  ModelInfo info;
  std::unique_ptr<ParameterSet> params;  // reset by the owner, under its lock, before its Context goes
};

// A device-side image (the context-owned result image).
struct ResultImage {
  VkImage image = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  VkDeviceSize bytes = 0;
};

// Everything a generation needs, validated at submission (the host's buffers are copied).
struct GenerateRequest {
  SamplerOptions options;
  int width = 0, height = 0;
  uint64_t seed = 0;
  uint32_t label = 0;
  std::vector<float> image;  // init / known image [3, H, W] in [-1, 1]
  std::vector<float> keep;   // inpainting [H, W], 1 = keep
};

struct Job {
  std::weak_ptr<ContextState> owner;
  uint64_t handle = 0;
  std::shared_ptr<ModelState> model;
  GenerateRequest request;
  tsr_job_status status = TSR_JOB_QUEUED;
  uint32_t steps_total = 0, steps_done = 0;
  double last_step_ms = 0;
  std::string failure;                   // why the job failed
  std::unique_ptr<Sampler> sampler;      // while running
  std::vector<uint8_t> pixels;           // RGBA8 result, rows width*4 bytes
  std::unique_ptr<Arena> device_pixels;  // the result on the device, source of image copies
  Tensor device_pixels_tensor;
  ResultImage result_image;
  uint64_t last_use_value = 0;  // timeline value after which the device no longer reads our buffers
};

struct ContextState {
  std::mutex mutex;
  bool destroyed = false;
  std::unique_ptr<Context> ctx;
  tsr_log_fn log = nullptr;
  void* log_user_data = nullptr;
  std::vector<uint32_t> result_queue_families;  // families sharing result images, ours included
  VkCommandPool pool = VK_NULL_HANDLE;
  VkSemaphore timeline = VK_NULL_HANDLE;  // null where the device has no timeline semaphores
  uint64_t timeline_value = 0;
  struct InFlight {
    uint64_t value;
    VkCommandBuffer cmd;
  };
  std::vector<InFlight> in_flight;
  std::vector<std::shared_ptr<ModelState>> models;
  std::vector<std::shared_ptr<Job>> jobs;  // submission order: the tick's queue
  double last_step_ms = 0;                 // expected cost of a job's first step

  ContextState(std::unique_ptr<Context> context, const tsr_context_desc& desc);
  ~ContextState();
  ContextState(const ContextState&) = delete;
  ContextState& operator=(const ContextState&) = delete;

  void log_message(tsr_log_level level, const std::string& message) const;
  // Forwards captured validation-layer messages to the log.
  void flush_validation_messages();

  tsr_tick_stats tick(double budget_ms);
  void cancel(Job& job);
  void release(Job& job);  // frees everything the job holds on the device
  void remove(const Job& job);
  // Frees every job's and model's device memory and the context's own objects, then the Context.
  void shut_down();

  // Device memory held by the models (listed, or kept alive by a job) and the jobs.
  uint64_t device_bytes_in_use() const;
  // Refuses a request whose sampler step is more work than max_step_flops, or which cannot fit
  // in the device's memory (tsr_generate_submit's list).
  void check_cost(const ModelState& model, const GenerateRequest& request, double max_step_flops) const;

  std::vector<uint8_t> preview(const Job& job) const;
  tsr_vk_image result_image(Job& job);
  uint64_t copy_to_image(Job& job, const tsr_vk_image_copy_desc& desc);

 private:
  Job* next_pending();
  void advance(Job& job, tsr_tick_stats& stats);
  void finish(Job& job);
  void upload_result(Job& job);
  uint64_t submit_transfer(Job& job, const std::function<void(VkCommandBuffer)>& record);
  void retire_finished_transfers(bool wait_all);
};

// RGBA8 pixels (rows `pitch` bytes apart) -> planar float [3, H, W] in [-1, 1], like load_image.
std::vector<float> rgba8_to_planes(const uint8_t* rgba, int width, int height, size_t pitch);

}  // namespace tessera::plugin
