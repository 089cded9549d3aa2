#include "plugin_context.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>

#include "tessera/image_io.hpp"
#include "tessera/material_images.hpp"
#include "tessera/vulkan_error.hpp"

namespace tessera::plugin {

namespace {

// A lost device runs nothing any more: the error ends the tick instead of failing one job.
void rethrow_if_device_lost(const std::exception& e) {
  if (auto* v = dynamic_cast<const VulkanError*>(&e); v && v->result() == VK_ERROR_DEVICE_LOST) throw;
}

// Layout transition of a whole single-mip, single-layer color subresource.
void image_barrier(VkCommandBuffer cmd, VkImage image, VkImageLayout from, VkImageLayout to, VkAccessFlags src_access,
                   VkAccessFlags dst_access, VkPipelineStageFlags src_stage, VkPipelineStageFlags dst_stage,
                   uint32_t mip, uint32_t layer) {
  VkImageMemoryBarrier b{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
  b.srcAccessMask = src_access;
  b.dstAccessMask = dst_access;
  b.oldLayout = from;
  b.newLayout = to;
  b.srcQueueFamilyIndex = b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  b.image = image;
  b.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, mip, 1, layer, 1};
  vkCmdPipelineBarrier(cmd, src_stage, dst_stage, 0, 0, nullptr, 0, nullptr, 1, &b);
}

}  // namespace

static_assert(int(MapKind::Albedo) == TSR_MAP_ALBEDO && int(MapKind::Height) == TSR_MAP_HEIGHT &&
                  int(MapKind::Roughness) == TSR_MAP_ROUGHNESS,
              "tsr_map numbers the model's maps as the runtime's table does");

uint32_t map_mask(const std::vector<MapKind>& maps) {
  uint32_t mask = 0;
  for (MapKind kind : maps) mask |= 1u << uint32_t(kind);
  if (map_channel_offset(maps, MapKind::Height) >= 0) mask |= 1u << TSR_MAP_NORMAL;
  return mask;
}

const char* map_name(tsr_map map) { return map == TSR_MAP_NORMAL ? "normal" : map_spec(MapKind(map)).name; }

void check_map(const std::vector<MapKind>& maps, int32_t map) {
  if (map < 0 || map >= kMapCount)
    throw ApiError(TSR_ERROR_INVALID_ARGUMENT,
                   "map " + std::to_string(map) + " is not a tsr_map (ALBEDO, HEIGHT, ROUGHNESS or NORMAL)");
  if (!(map_mask(maps) & (1u << map)))
    throw ApiError(TSR_ERROR_INVALID_ARGUMENT,
                   std::string("this model has no ") + map_name(tsr_map(map)) + " map (its maps: " + map_names(maps) +
                       (map == TSR_MAP_NORMAL ? "; normals are derived from height)" : ")"));
}

std::vector<float> rgba8_to_planes(const uint8_t* rgba, int width, int height, size_t pitch) {
  const size_t plane = size_t(width) * height;
  std::vector<float> planes(3 * plane);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c)
        planes[c * plane + size_t(y) * width + x] = rgba[y * pitch + size_t(x) * 4 + c] / 127.5f - 1.0f;
  return planes;
}

ContextState::ContextState(std::unique_ptr<Context> context, const tsr_context_desc& desc)
    : device_name(context->info().name), ctx(std::move(context)), log(desc.log), log_user_data(desc.log_user_data) {
  result_queue_families.push_back(ctx->queue_family());
  for (uint32_t i = 0; i < desc.vulkan.result_queue_family_count; ++i)
    if (std::find(result_queue_families.begin(), result_queue_families.end(), desc.vulkan.result_queue_families[i]) ==
        result_queue_families.end())
      result_queue_families.push_back(desc.vulkan.result_queue_families[i]);
  VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pci.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
  pci.queueFamilyIndex = ctx->queue_family();
  pool = OwnedCommandPool::create(ctx->device(), vkCreateCommandPool, pci, "vkCreateCommandPool");
  const VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  batch_fence = OwnedFence::create(ctx->device(), vkCreateFence, fci, "vkCreateFence");
  if (ctx->info().timeline_semaphore) {
    VkSemaphoreTypeCreateInfo type{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO};
    type.semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE;
    VkSemaphoreCreateInfo sci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    sci.pNext = &type;
    timeline = OwnedSemaphore::create(ctx->device(), vkCreateSemaphore, sci, "vkCreateSemaphore (timeline)");
  }
}

ContextState::~ContextState() {
  try {
    shut_down();
  } catch (...) {  // a destructor reports nothing; tsr_context_destroy reports through shut_down
  }
}

void ContextState::log_message(tsr_log_level level, const std::string& message) const {
  if (log) {
    log(log_user_data, level, message.c_str());
    return;
  }
  static const char* names[] = {"info", "warning", "error"};
  std::fprintf(stderr, "tessera %s: %s\n", names[level], message.c_str());
}

void ContextState::flush_validation_messages() {
  if (!ctx || !ctx->validation_enabled()) return;
  auto messages = ctx->validation_messages();
  if (messages.empty()) return;
  ctx->clear_validation_messages();
  for (const auto& m : messages) log_message(TSR_LOG_ERROR, "vulkan validation: " + m);
}

Job* ContextState::next_pending() {
  for (auto& job : jobs)
    if (job->pending()) return job.get();
  return nullptr;
}

tsr_tick_stats ContextState::tick(double budget_ms, bool wait) {
  tsr_tick_stats stats{};
  stats.struct_size = sizeof stats;
  retire_finished_transfers(false);
  if (collect(wait, stats) && !wait) submit_batch(budget_ms);
  for (int units = 0; wait; ++units) {
    Job* job = next_pending();
    if (!job) break;
    // Whole units only (a step, or a normals pass, budgeted as a step): stop before one that
    // would overrun, but always run one.
    double expected = job->last_step_ms > 0 ? job->last_step_ms : last_step_ms;
    if (units > 0 && stats.gpu_ms + expected > budget_ms) break;
    try {
      advance(*job, stats);
    } catch (const std::exception& e) {
      rethrow_if_device_lost(e);
      fail(*job, e.what());
    }
  }
  for (const auto& entry : batch) stats.steps_submitted += entry.unit == BatchEntry::Step;
  for (auto& job : jobs) stats.jobs_pending += job->pending();
  return stats;
}

void ContextState::fail(Job& job, const std::string& why) {
  job.drop_work();
  {
    std::lock_guard<std::mutex> published(status_mutex);
    job.status = TSR_JOB_FAILED;
    job.failure = why;
  }
  log_message(TSR_LOG_ERROR, "job failed: " + why);
}

void ContextState::prepare(Job& job) {
  if (job.status != TSR_JOB_QUEUED || job.sampler) return;
  const GenerationRequest& r = job.request;
  const UNetConfig& config = job.model->info.config;
  job.sampler = std::make_unique<Sampler>(*ctx, config, *job.model->params, 1, r.height, r.width, r.options);
  if (map_mask(config.maps) & (1u << TSR_MAP_NORMAL))
    job.normals = std::make_unique<DerivedNormals>(*ctx, job.sampler->image_tensor(), config.maps, r.normals);
}

void ContextState::begin(Job& job, bool run_start) {
  prepare(job);
  {
    std::lock_guard<std::mutex> published(status_mutex);
    job.status = TSR_JOB_RUNNING;
    job.steps_total = static_cast<uint32_t>(job.sampler->steps_total());
  }
  const SampleRequest request = job.request.sample_request();
  if (run_start)
    job.sampler->start(request);
  else
    job.sampler->load(request);
}

void ContextState::count_step(Job& job, double ms, tsr_tick_stats& stats) {
  job.last_step_ms = last_step_ms = ms;
  {
    std::lock_guard<std::mutex> published(status_mutex);
    job.steps_done = static_cast<uint32_t>(job.sampler->steps_done());
  }
  stats.gpu_ms += ms;
  stats.max_step_ms = std::max(stats.max_step_ms, ms);
  stats.steps_run++;
}

void ContextState::advance(Job& job, tsr_tick_stats& stats) {
  if (job.status == TSR_JOB_QUEUED) begin(job, true);
  if (!job.sampler->done()) {
    auto begin_time = std::chrono::steady_clock::now();
    job.sampler->step();
    double ms = job.sampler->last_step_gpu_ms();
    // Queues without timestamps: the step's wall time (submit to completion) stands in.
    if (ctx->info().timestamp_valid_bits == 0)
      ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin_time).count();
    job.steps_submitted = static_cast<uint32_t>(job.sampler->steps_done());
    count_step(job, ms, stats);
  } else if (job.normals && !job.normals_done) {
    run_normals(job, stats);
  }
  if (job.work_done()) finish(job, stats);
}

void ContextState::run_normals(Job& job, tsr_tick_stats& stats) {
  // One short dispatch: its wall time (submit to completion) stands in for its GPU time.
  const auto begin_time = std::chrono::steady_clock::now();
  job.normals->run();
  job.normals_done = job.normals_submitted = true;
  stats.gpu_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin_time).count();
}

void ContextState::submit_batch(double budget_ms) {
  std::vector<VkCommandBuffer> commands;
  double planned = 0;
  int steps = 0;
  bool full = false;
  // A unit (step or normals pass, budgeted as a step) of unknown cost goes alone; known ones
  // fill the budget, at least one per batch.
  auto admit = [&](const Job& job) {
    const double expected = job.last_step_ms > 0 ? job.last_step_ms : last_step_ms;
    if (steps > 0 && (expected == 0 || planned + expected > budget_ms)) full = true;
    if (full) return false;
    planned += expected;
    steps++;
    full = expected == 0;
    return true;
  };
  for (auto& job : jobs) {
    if (full) break;
    if (!job->pending()) continue;
    const size_t before = batch.size();  // batch and commands grow together
    try {
      if (job->status == TSR_JOB_QUEUED) {
        begin(*job, false);
        batch.push_back({job, BatchEntry::Start});
        commands.push_back(job->sampler->start_sequence().command_buffer());
      }
      while (job->steps_submitted < uint32_t(job->sampler->steps_total()) && admit(*job)) {
        batch.push_back({job, BatchEntry::Step});
        commands.push_back(job->sampler->step_sequence(job->steps_submitted++).command_buffer());
      }
      if (job->normals && !job->normals_submitted && job->steps_submitted == uint32_t(job->sampler->steps_total()) &&
          admit(*job)) {
        batch.push_back({job, BatchEntry::Normals});
        commands.push_back(job->normals->sequence().command_buffer());
        job->normals_submitted = true;
      }
    } catch (const std::exception& e) {
      rethrow_if_device_lost(e);
      batch.resize(before);  // a failed job's sampler goes: none of its commands may be submitted
      commands.resize(before);
      fail(*job, e.what());
    }
  }
  if (commands.empty()) return;
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = static_cast<uint32_t>(commands.size());
  si.pCommandBuffers = commands.data();
  try {
    ctx->submit(si, batch_fence.get());
  } catch (const VulkanError& e) {
    std::vector<BatchEntry> lost = std::move(batch);
    batch.clear();
    if (e.result() == VK_ERROR_DEVICE_LOST) throw;
    for (auto& entry : lost)
      if (entry.job->status == TSR_JOB_RUNNING) fail(*entry.job, e.what());
  }
}

bool ContextState::collect(bool wait, tsr_tick_stats& stats) {
  if (batch.empty()) return true;
  VkResult r = wait ? vkWaitForFences(ctx->device(), 1, batch_fence.address(), VK_TRUE, UINT64_MAX)
                    : vkGetFenceStatus(ctx->device(), batch_fence.get());
  if (r == VK_NOT_READY || r == VK_TIMEOUT) return false;
  if (r != VK_SUCCESS) throw VulkanError(wait ? "vkWaitForFences" : "vkGetFenceStatus", r);
  VK_CHECK(vkResetFences(ctx->device(), 1, batch_fence.address()));
  std::vector<BatchEntry> done = std::move(batch);
  batch.clear();
  for (auto& entry : done) {
    Job& job = *entry.job;
    if (job.status != TSR_JOB_RUNNING || !job.sampler) continue;  // failed while its steps ran
    try {
      if (entry.unit == BatchEntry::Step) {
        job.sampler->step_completed();
        count_step(job, job.sampler->last_step_gpu_ms(), stats);
      }
      if (entry.unit == BatchEntry::Normals) job.normals_done = true;
      if (job.work_done()) finish(job, stats);
    } catch (const std::exception& e) {
      fail(job, e.what());
    }
  }
  return true;
}

void ContextState::collect_job(const Job& job) {
  if (std::none_of(batch.begin(), batch.end(), [&](auto& e) { return e.job.get() == &job; })) return;
  tsr_tick_stats unreported{};  // a later tick reports only what it collects itself
  collect(true, unreported);
}

void ContextState::finish(Job& job, tsr_tick_stats& stats) {
  const int w = job.request.width, h = job.request.height;
  const std::vector<MapKind>& kinds = job.model->info.config.maps;
  // Every map as RGB planes (grey maps in R = G = B), each converted as read_pixels' albedo.
  const std::vector<float> rgb = maps_side_by_side(job.sampler->image(), 1, h, w, kinds);
  const size_t per_map = size_t(3) * w * h;
  std::array<std::vector<uint8_t>, kMapCount> maps;
  for (size_t i = 0; i < kinds.size(); ++i)
    maps[size_t(kinds[i])] = planes_to_rgba8(std::span(rgb).subspan(i * per_map, per_map), w, h);
  if (job.normals) maps[TSR_MAP_NORMAL] = planes_to_rgba8(job.normals->download(), w, h);
  job.drop_work();
  {
    std::lock_guard<std::mutex> published(status_mutex);
    job.maps = std::move(maps);
    job.status = TSR_JOB_DONE;
  }
  stats.jobs_finished++;
}

void ContextState::cancel(Job& job) {
  if (!job.pending()) return;
  collect_job(job);  // its running steps finish first (they may also finish the job)
  if (!job.pending()) return;
  job.drop_work();
  std::lock_guard<std::mutex> published(status_mutex);
  job.status = TSR_JOB_CANCELLED;
}

void ContextState::release(Job& job) {
  try {
    collect_job(job);
  } catch (const std::exception& e) {  // freeing goes ahead, as below
    log_message(TSR_LOG_ERROR, std::string("job release: ") + e.what());
  }
  // Freeing goes ahead even when the wait fails (a lost device runs nothing any more).
  if (job.last_use_value && timeline)
    if (VkResult r = wait_timeline(job.last_use_value); r != VK_SUCCESS)
      log_message(TSR_LOG_ERROR, std::string("job release: vkWaitSemaphores: ") + vk_result_name(r));
  job.drop_work();
  job.device_maps = {};
  job.model.reset();
}

void ContextState::remove(const Job& job) {
  std::erase_if(jobs, [&](const auto& j) { return j.get() == &job; });
}

void ContextState::free_if_unused(const std::shared_ptr<ModelState>& model) {
  if (!model || std::find(models.begin(), models.end(), model) != models.end()) return;
  if (std::none_of(jobs.begin(), jobs.end(), [&](const auto& job) { return job->model == model; }))
    model->params.reset();
}

void ContextState::shut_down() {
  if (!ctx) return;
  // Teardown goes on whatever a wait reports (a lost device): everything is freed regardless.
  try {
    tsr_tick_stats unreported{};
    collect(true, unreported);
    retire_finished_transfers(true);
  } catch (const std::exception& e) {
    log_message(TSR_LOG_ERROR, std::string("context shutdown: ") + e.what());
  }
  batch.clear();
  for (auto& f : in_flight) vkFreeCommandBuffers(ctx->device(), pool.get(), 1, &f.cmd);
  in_flight.clear();
  for (auto& job : jobs) {
    job->last_use_value = 0;  // every transfer has completed
    release(*job);
  }
  jobs.clear();
  for (auto& model : models) model->params.reset();
  models.clear();
  timeline.reset();
  pool.reset();
  batch_fence.reset();
  flush_validation_messages();
  ctx.reset();
}

uint64_t ContextState::device_bytes_in_use() const {
  std::set<const ModelState*> counted;
  uint64_t bytes = 0;
  auto add_model = [&](const ModelState* m) {
    if (m && m->params && m->params->allocated() && counted.insert(m).second)
      bytes += m->params->flat_values().arena()->capacity();
  };
  for (const auto& m : models) add_model(m.get());
  for (const auto& job : jobs) {
    add_model(job->model.get());
    if (const Sampler* s = job->sampler.get()) {
      bytes += s->image_tensor().arena()->capacity();
      bytes += s->denoiser().device_bytes();
    }
    if (job->normals) bytes += job->normals->normals().arena()->capacity();
    for (const DeviceMap& map : job->device_maps) bytes += (map.arena ? map.arena->capacity() : 0) + map.image.bytes;
  }
  return bytes;
}

void ContextState::check_cost(const ModelState& model, const GenerationRequest& r, double max_step_flops) const {
  PlanCost need = Sampler::cost(*ctx, model.info.config, *model.params, 1, r.height, r.width, r.options);
  if (map_mask(model.info.config.maps) & (1u << TSR_MAP_NORMAL)) {  // the normals pass's own tensor
    const VkDeviceSize normals = VkDeviceSize(3) * r.width * r.height * sizeof(float) + Arena::kAlignment;
    need.total_bytes += normals;
    need.largest_allocation = std::max(need.largest_allocation, normals);
    need.largest_tensor = std::max(need.largest_tensor, normals - Arena::kAlignment);
  }
  const DeviceInfo& info = ctx->info();
  const uint64_t held = device_bytes_in_use();
  const uint64_t free = info.device_local_bytes > held ? info.device_local_bytes - held : 0;
  const std::string job = "a " + std::to_string(r.width) + "x" + std::to_string(r.height) + " job";
  auto gflop = [](double flops) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3g GFLOP", flops / 1e9);
    return std::string(text);
  };
  if (info.max_memory_allocation_size && need.largest_allocation > info.max_memory_allocation_size)
    throw ApiError(TSR_ERROR_OUT_OF_MEMORY,
                   job + " needs one device allocation of " + std::to_string(need.largest_allocation) +
                       " bytes; the device's largest is " + std::to_string(info.max_memory_allocation_size) + " bytes");
  if (need.largest_tensor > info.max_storage_buffer_range)
    throw ApiError(TSR_ERROR_INVALID_SIZE, job + " needs a tensor of " + std::to_string(need.largest_tensor) +
                                               " bytes; the device binds at most " +
                                               std::to_string(info.max_storage_buffer_range) +
                                               " (maxStorageBufferRange): make the image smaller");
  if (need.total_bytes > free)
    throw ApiError(TSR_ERROR_OUT_OF_MEMORY, job + " needs " + std::to_string(need.total_bytes) +
                                                " bytes of device memory; the device-local heap has " +
                                                std::to_string(info.device_local_bytes) + " bytes, " +
                                                std::to_string(held) + " of them held by this context");
  if (need.forward_flops > max_step_flops)
    throw ApiError(TSR_ERROR_INVALID_SIZE, "one step of " + job + " is " + gflop(need.forward_flops) +
                                               " of work, more than max_step_gflop (" + gflop(max_step_flops) +
                                               "): a tick runs whole steps. Make the image smaller, or raise "
                                               "tsr_generate_desc.max_step_gflop if the device is fast enough");
}

std::vector<uint8_t> ContextState::preview(Job& job) {
  collect_job(job);  // the preview buffer is written by its running steps
  if (job.status == TSR_JOB_DONE) return job.maps[TSR_MAP_ALBEDO];
  if (job.status != TSR_JOB_RUNNING || !job.sampler || job.steps_done == 0)
    throw ApiError(TSR_NOT_READY, "the job has no preview yet (it has run no step)");
  const int w = job.request.width, h = job.request.height;
  return planes_to_rgba8(map_planes(job.sampler->preview(), 0, h, w, job.model->info.config.maps, MapKind::Albedo), w,
                         h);
}

DeviceMap& ContextState::upload_result(Job& job, tsr_map map) {
  DeviceMap& d = job.device_maps[map];
  if (d.arena) return d;
  const int64_t texels = int64_t(job.request.width) * job.request.height;
  d.arena = std::make_unique<Arena>(*ctx, VkDeviceSize(texels * 4 + Arena::kAlignment), "result pixels");
  d.pixels = d.arena->allocate({texels}, DType::U32, "rgba8");
  d.arena->upload(d.pixels, std::as_bytes(std::span(job.maps[map])));
  return d;
}

uint64_t ContextState::submit_transfer(Job& job, const std::function<void(VkCommandBuffer)>& record) {
  if (!timeline) {  // no timeline semaphore to hand out: the result is complete on return
    ctx->run_once(record);
    return 0;
  }
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = pool.get();
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkCommandBuffer cmd;
  VK_CHECK(vkAllocateCommandBuffers(ctx->device(), &ai, &cmd));
  try {
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    VK_CHECK(vkBeginCommandBuffer(cmd, &bi));
    record(cmd);
    VK_CHECK(vkEndCommandBuffer(cmd));
    const uint64_t value = timeline_value + 1;
    VkTimelineSemaphoreSubmitInfo ts{VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO};
    ts.signalSemaphoreValueCount = 1;
    ts.pSignalSemaphoreValues = &value;
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.pNext = &ts;
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd;
    si.signalSemaphoreCount = 1;
    si.pSignalSemaphores = timeline.address();
    ctx->submit(si);
    timeline_value = value;
  } catch (...) {
    vkFreeCommandBuffers(ctx->device(), pool.get(), 1, &cmd);
    throw;
  }
  in_flight.push_back({timeline_value, cmd});
  job.last_use_value = timeline_value;
  return timeline_value;
}

VkResult ContextState::wait_timeline(uint64_t value) const {
  VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO};
  wi.semaphoreCount = 1;
  wi.pSemaphores = timeline.address();
  wi.pValues = &value;
  return vkWaitSemaphores(ctx->device(), &wi, UINT64_MAX);
}

void ContextState::retire_finished_transfers(bool wait_all) {
  if (!timeline || in_flight.empty()) return;
  if (wait_all) VK_CHECK(wait_timeline(timeline_value));
  uint64_t reached = 0;
  VK_CHECK(vkGetSemaphoreCounterValue(ctx->device(), timeline.get(), &reached));
  auto done = [&](const InFlight& f) { return f.value <= reached; };
  for (auto& f : in_flight)
    if (done(f)) vkFreeCommandBuffers(ctx->device(), pool.get(), 1, &f.cmd);
  in_flight.erase(std::remove_if(in_flight.begin(), in_flight.end(), done), in_flight.end());
}

tsr_vk_image ContextState::result_image(Job& job, tsr_map map) {
  const uint32_t w = uint32_t(job.request.width), h = uint32_t(job.request.height);
  DeviceMap& d = job.device_maps[map];
  if (!d.image.image) {
    retire_finished_transfers(false);
    upload_result(job, map);
    ResultImage made = create_result_image(w, h);  // freed if the copy cannot be submitted
    copy_result(job, d.pixels, made.image.get(), VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL, 0,
                0, 0, 0);
    d.image = std::move(made);
  }
  tsr_vk_image out{};
  out.image = d.image.image.get();
  out.format = VK_FORMAT_R8G8B8A8_UNORM;
  out.layout = VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL;
  out.width = w;
  out.height = h;
  out.semaphore = timeline.get();
  out.wait_value = timeline ? job.last_use_value : 0;
  return out;
}

ResultImage ContextState::create_result_image(uint32_t w, uint32_t h) const {
  VkImageCreateInfo ici{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
  ici.flags = VK_IMAGE_CREATE_MUTABLE_FORMAT_BIT;
  ici.imageType = VK_IMAGE_TYPE_2D;
  ici.format = VK_FORMAT_R8G8B8A8_UNORM;
  ici.extent = {w, h, 1};
  ici.mipLevels = 1;
  ici.arrayLayers = 1;
  ici.samples = VK_SAMPLE_COUNT_1_BIT;
  ici.tiling = VK_IMAGE_TILING_OPTIMAL;
  ici.usage = VK_IMAGE_USAGE_SAMPLED_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT;
  if (result_queue_families.size() > 1) {
    ici.sharingMode = VK_SHARING_MODE_CONCURRENT;
    ici.queueFamilyIndexCount = static_cast<uint32_t>(result_queue_families.size());
    ici.pQueueFamilyIndices = result_queue_families.data();
  }
  ici.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
  const VkDevice device = ctx->device();
  ResultImage made;
  made.image = OwnedImage::create(device, vkCreateImage, ici, "vkCreateImage (result image)");
  VkMemoryRequirements req;
  vkGetImageMemoryRequirements(device, made.image.get(), &req);
  VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  mai.allocationSize = made.bytes = req.size;
  mai.memoryTypeIndex = ctx->find_memory_type(req.memoryTypeBits, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  try {
    made.memory = OwnedMemory::create(device, vkAllocateMemory, mai, "vkAllocateMemory (result image)");
  } catch (const VulkanError& e) {
    if (e.result() != VK_ERROR_OUT_OF_DEVICE_MEMORY && e.result() != VK_ERROR_OUT_OF_HOST_MEMORY) throw;
    throw OutOfMemoryError("result image " + std::to_string(w) + "x" + std::to_string(h) + ": out of memory");
  }
  VK_CHECK(vkBindImageMemory(device, made.image.get(), made.memory.get(), 0));
  return made;
}

uint64_t ContextState::copy_to_image(Job& job, const tsr_vk_image_copy_desc& d) {
  retire_finished_transfers(false);
  const Tensor& src = upload_result(job, TSR_MAP_ALBEDO).pixels;
  const VkImageLayout final_layout =
      d.new_layout == VK_IMAGE_LAYOUT_UNDEFINED ? VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL : d.new_layout;
  return copy_result(job, src, d.image, d.old_layout, final_layout, d.mip_level, d.array_layer, d.x, d.y);
}

uint64_t ContextState::copy_result(Job& job, const Tensor& src, VkImage image, VkImageLayout from, VkImageLayout to,
                                   uint32_t mip, uint32_t layer, int32_t x, int32_t y) {
  const uint32_t w = uint32_t(job.request.width), h = uint32_t(job.request.height);
  return submit_transfer(job, [&](VkCommandBuffer cmd) {
    // The host's earlier use of the image on this queue is ordered before the copy (a fresh
    // result image has none; the barrier costs it nothing).
    image_barrier(cmd, image, from, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_ACCESS_MEMORY_WRITE_BIT,
                  VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, mip,
                  layer);
    VkBufferImageCopy region{};
    region.bufferOffset = src.offset();
    region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, mip, layer, 1};
    region.imageOffset = {x, y, 0};
    region.imageExtent = {w, h, 1};
    vkCmdCopyBufferToImage(cmd, src.buffer(), image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &region);
    // The semaphore signal makes the writes available to whoever waits on it.
    if (to != VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL)
      image_barrier(cmd, image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, to, VK_ACCESS_TRANSFER_WRITE_BIT, 0,
                    VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, mip, layer);
  });
}

}  // namespace tessera::plugin
