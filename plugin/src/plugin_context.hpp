// The C++ behind tessera.h: a context's state (its runtime Context, models, job queue, result
// images and timeline semaphore) and the job scheduler that tsr_tick drives. Nothing here
// knows about handles or the C boundary (c_api.cpp); everything is called with the context's
// work lock (ContextState::mutex) held.
#pragma once
#include <array>
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
#include "tessera/derived_normals.hpp"
#include "tessera/model_file.hpp"
#include "tessera/sampler.hpp"
#include "tessera/vk_handle.hpp"

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

// A device-side image (the context-owned result image); the image goes before its memory.
struct ResultImage {
  OwnedMemory memory;
  OwnedImage image;
  VkDeviceSize bytes = 0;
};

// The maps of tessera.h (tsr_map), in its order.
inline constexpr int kMapCount = TSR_MAP_NORMAL + 1;
// The maps a model's jobs give, as tsr_model_info.map_mask (normal with height).
uint32_t map_mask(const std::vector<MapKind>& maps);
const char* map_name(tsr_map map);
// Throws ApiError(INVALID_ARGUMENT) naming `map` when it is no tsr_map or not in `mask`.
void check_map(const std::vector<MapKind>& maps, int32_t map);

// One map of a finished job on the device: its RGBA8 pixels (source of image copies) and its
// context-owned result image, each made on first use.
struct DeviceMap {
  std::unique_ptr<Arena> arena;
  Tensor pixels;
  ResultImage image;
};

struct Job {
  std::weak_ptr<ContextState> owner;
  uint64_t handle = 0;
  std::shared_ptr<ModelState> model;
  GenerationRequest request;        // validated at submission (the host's buffers are copied)
  std::vector<MapKind> model_maps;  // the model's, copied at submission: queries read it
  // What queries read: written with both locks held, read with either (ContextState).
  tsr_job_status status = TSR_JOB_QUEUED;
  uint32_t steps_total = 0, steps_done = 0;
  std::string failure;  // why the job failed
  // RGBA8 result per tsr_map, rows width*4 bytes; empty for maps the model lacks.
  std::array<std::vector<uint8_t>, kMapCount> maps;
  // The rest is the work lock's.
  uint32_t steps_submitted = 0;  // steps_done plus those still running (tsr_tick_async)
  double last_step_ms = 0;
  std::unique_ptr<Sampler> sampler;  // from tsr_job_prepare or the first tick until the job ends
  // With the sampler, for a model with height: the normals pass, the job's last unit of work
  // after its last step; normals_submitted / normals_done when it is running / has run.
  std::unique_ptr<DerivedNormals> normals;
  bool normals_submitted = false, normals_done = false;
  std::array<DeviceMap, kMapCount> device_maps;
  uint64_t last_use_value = 0;  // timeline value after which the device no longer reads our buffers

  bool pending() const { return status == TSR_JOB_QUEUED || status == TSR_JOB_RUNNING; }
  void drop_work() {  // the normals pass reads the sampler's image: it goes first
    normals.reset();
    sampler.reset();
  }
  // All of the job's GPU work has run: its steps and, with height, its normals pass.
  bool work_done() const { return sampler && sampler->done() && (!normals || normals_done); }
};

// Two locks, so that no query waits for the GPU or for the host's queue lock:
//  - `mutex`, the work lock, serialises everything that uses the device (ticks, loads, result
//    images, teardown). It is held across GPU waits and around the host's lock_queue callback.
//  - `status_mutex` guards what queries read (`destroyed`, each job's status, progress, failure
//    and pixels). It is taken for short copies only, inside the work lock where both are needed,
//    and never around a GPU wait, a Vulkan submission or a host callback.
// So the order is: host's queue lock, if any, before nothing of ours; work lock before status
// lock. tsr_job_get_status / get_progress / read_pixels take the status lock only.
struct ContextState {
  std::mutex mutex;
  std::mutex status_mutex;
  bool destroyed = false;
  std::string device_name;  // copied at creation: queries must not touch ctx
  std::unique_ptr<Context> ctx;
  tsr_log_fn log = nullptr;
  void* log_user_data = nullptr;
  std::vector<uint32_t> result_queue_families;  // families sharing result images, ours included
  OwnedCommandPool pool;
  OwnedSemaphore timeline;  // null where the device has no timeline semaphores
  uint64_t timeline_value = 0;
  struct InFlight {
    uint64_t value;
    VkCommandBuffer cmd;
  };
  std::vector<InFlight> in_flight;
  // The steps tsr_tick_async submitted and a later call collects, in submission order (one
  // batch at a time, signalling batch_fence).
  struct BatchEntry {
    std::shared_ptr<Job> job;
    enum Unit { Start, Step, Normals } unit;  // the job's start sequence, next step or normals pass
  };
  std::vector<BatchEntry> batch;
  OwnedFence batch_fence;
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

  // wait = false: tsr_tick_async (collect what finished, submit within the budget, return).
  tsr_tick_stats tick(double budget_ms, bool wait);
  void prepare(Job& job);  // builds the job's sampler (CPU work, pipelines, device memory)
  void cancel(Job& job);
  void release(Job& job);  // frees everything the job holds on the device
  void remove(const Job& job);
  // Frees the weights of a model whose handle is gone (not in `models`) once no job uses them.
  void free_if_unused(const std::shared_ptr<ModelState>& model);
  // Frees every job's and model's device memory and the context's own objects, then the Context.
  void shut_down();

  // Device memory held by the models (listed, or kept alive by a job) and the jobs.
  uint64_t device_bytes_in_use() const;
  // Refuses a request whose sampler step is more work than max_step_flops, or which cannot fit
  // in the device's memory (tsr_generate_submit's list), the normals pass's tensor included.
  void check_cost(const ModelState& model, const GenerationRequest& request, double max_step_flops) const;

  std::vector<uint8_t> preview(Job& job);
  tsr_vk_image result_image(Job& job, tsr_map map);
  uint64_t copy_to_image(Job& job, const tsr_vk_image_copy_desc& desc);

 private:
  Job* next_pending();
  void advance(Job& job, tsr_tick_stats& stats);
  // Prepares, loads the request, marks the job running; runs its start sequence, or leaves it
  // to the caller's submission.
  void begin(Job& job, bool run_start);
  void finish(Job& job, tsr_tick_stats& stats);
  void fail(Job& job, const std::string& why);
  void count_step(Job& job, double ms, tsr_tick_stats& stats);
  void run_normals(Job& job, tsr_tick_stats& stats);  // the blocking tick's normals pass
  void submit_batch(double budget_ms);
  // Completes the batch of tsr_tick_async if it has finished (or waits for it): steps_done,
  // timings, finished jobs. True when no batch is left running.
  bool collect(bool wait, tsr_tick_stats& stats);
  void collect_job(const Job& job);  // waits for the batch if it holds the job
  DeviceMap& upload_result(Job& job, tsr_map map);
  uint64_t submit_transfer(Job& job, const std::function<void(VkCommandBuffer)>& record);
  ResultImage create_result_image(uint32_t width, uint32_t height) const;
  // Copies the job's device pixels to (x, y) of `image`, moving it from layout `from` to `to`.
  uint64_t copy_result(Job& job, const Tensor& src, VkImage image, VkImageLayout from, VkImageLayout to, uint32_t mip,
                       uint32_t layer, int32_t x, int32_t y);
  VkResult wait_timeline(uint64_t value) const;  // until the timeline semaphore reaches `value`
  void retire_finished_transfers(bool wait_all);
};

// RGBA8 pixels (rows `pitch` bytes apart) -> planar float [3, H, W] in [-1, 1], like load_image.
std::vector<float> rgba8_to_planes(const uint8_t* rgba, int width, int height, size_t pitch);

}  // namespace tessera::plugin
