#include "tessera/command_sequence.hpp"

#include <algorithm>

#include "tessera/arena.hpp"
#include "tessera/context.hpp"
#include "tessera/vulkan_error.hpp"

namespace tessera {

namespace {

constexpr uint32_t kSetsPerPool = 256;
constexpr uint32_t kMaxMarks = 256;
constexpr uint32_t kProfileQueriesPerPool = 1024;

void memory_barrier(VkCommandBuffer cmd, VkAccessFlags src, VkAccessFlags dst, VkPipelineStageFlags src_stage,
                    VkPipelineStageFlags dst_stage) {
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = src;
  mb.dstAccessMask = dst;
  vkCmdPipelineBarrier(cmd, src_stage, dst_stage, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

constexpr VkAccessFlags kAllGpuAccess = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                        VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
constexpr VkPipelineStageFlags kGpuStages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;

VkFormat texel_format(BindAs b) {
  switch (b) {
    case BindAs::TexelF32: return VK_FORMAT_R32_SFLOAT;
    case BindAs::TexelVec4: return VK_FORMAT_R32G32B32A32_SFLOAT;
    case BindAs::TexelU32: return VK_FORMAT_R32_UINT;
    default: return VK_FORMAT_UNDEFINED;
  }
}

}  // namespace

Groups groups_1d(uint64_t invocations, uint32_t local_size) {
  uint64_t groups = (invocations + local_size - 1) / local_size;
  if (groups <= 65535) return {static_cast<uint32_t>(std::max<uint64_t>(groups, 1)), 1, 1};
  uint64_t y = (groups + 65534) / 65535;
  return {static_cast<uint32_t>((groups + y - 1) / y), static_cast<uint32_t>(y), 1};
}

CommandSequence::CommandSequence(Context& ctx) : ctx_(ctx) {
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = ctx.command_pool();
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VK_CHECK(vkAllocateCommandBuffers(ctx.device(), &ai, &cmd_));
  if (ctx.info().timestamp_valid_bits) {
    VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
    qi.queryCount = kMaxMarks;
    VK_CHECK(vkCreateQueryPool(ctx.device(), &qi, nullptr, &queries_));
  }
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  VK_CHECK(vkBeginCommandBuffer(cmd_, &bi));
  if (queries_) vkCmdResetQueryPool(cmd_, queries_, 0, kMaxMarks);
  // Work from an earlier submission (or a host upload) must be visible to this one.
  memory_barrier(cmd_, kAllGpuAccess | VK_ACCESS_HOST_WRITE_BIT, kAllGpuAccess,
                 kGpuStages | VK_PIPELINE_STAGE_HOST_BIT, kGpuStages);
}

CommandSequence::~CommandSequence() {
  VkDevice d = ctx_.device();
  vkFreeCommandBuffers(d, ctx_.command_pool(), 1, &cmd_);
  for (auto p : pools_) vkDestroyDescriptorPool(d, p, nullptr);
  if (queries_) vkDestroyQueryPool(d, queries_, nullptr);
  for (auto p : profile_pools_) vkDestroyQueryPool(d, p, nullptr);
}

void CommandSequence::require_recording(const char* what) const {
  if (finished_) throw Error(std::string("CommandSequence::") + what + " after the sequence was finished (record, then run)");
}

VkDescriptorSet CommandSequence::allocate_set(const Kernel& kernel) {
  if (pools_.empty() || sets_in_pool_ == kSetsPerPool) {
    VkDescriptorPoolSize sizes[] = {{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kSetsPerPool * 8},
                                    {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, kSetsPerPool * 8}};
    VkDescriptorPoolCreateInfo pi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    pi.maxSets = kSetsPerPool;
    pi.poolSizeCount = 2;
    pi.pPoolSizes = sizes;
    VkDescriptorPool pool;
    VK_CHECK(vkCreateDescriptorPool(ctx_.device(), &pi, nullptr, &pool));
    pools_.push_back(pool);
    sets_in_pool_ = 0;
  }
  VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  ai.descriptorPool = pools_.back();
  ai.descriptorSetCount = 1;
  ai.pSetLayouts = &kernel.set_layout;
  VkDescriptorSet set;
  VK_CHECK(vkAllocateDescriptorSets(ctx_.device(), &ai, &set));
  ++sets_in_pool_;
  return set;
}

void CommandSequence::track(std::span<const Range> reads, std::span<const Range> writes) {
  auto overlaps = [](const Range& a, const std::vector<Range>& list) {
    for (const Range& b : list)
      if (a.buffer == b.buffer && a.begin < b.end && b.begin < a.end) return true;
    return false;
  };
  bool hazard = false;
  for (const Range& r : reads) hazard = hazard || overlaps(r, pending_writes_);
  for (const Range& w : writes) hazard = hazard || overlaps(w, pending_writes_) || overlaps(w, pending_reads_);
  if (hazard) barrier();
  pending_reads_.insert(pending_reads_.end(), reads.begin(), reads.end());
  pending_writes_.insert(pending_writes_.end(), writes.begin(), writes.end());
}

void CommandSequence::barrier() {
  require_recording("barrier");
  memory_barrier(cmd_, kAllGpuAccess, kAllGpuAccess, kGpuStages, kGpuStages);
  pending_reads_.clear();
  pending_writes_.clear();
  ++barriers_;
}

void CommandSequence::dispatch(const Kernel& kernel, std::initializer_list<Arg> args, const void* push,
                               size_t push_bytes, Groups groups) {
  require_recording("dispatch");
  const std::string& name = kernel.spec.shader;
  if (args.size() != kernel.spec.bindings.size())
    throw Error("kernel " + name + " takes " + std::to_string(kernel.spec.bindings.size()) + " bindings, got " +
                std::to_string(args.size()));
  if (push_bytes > kMaxPushConstantBytes)
    throw Error("kernel " + name + ": push constants of " + std::to_string(push_bytes) + " bytes exceed 128");
  const auto& info = ctx_.info();
  if (groups.x == 0 || groups.y == 0 || groups.z == 0) return;  // empty tensors: nothing to do
  if (groups.x > info.max_workgroup_count[0] || groups.y > info.max_workgroup_count[1] ||
      groups.z > info.max_workgroup_count[2])
    throw UnsupportedError("kernel " + name + ": dispatch of " + std::to_string(groups.x) + "x" +
                           std::to_string(groups.y) + "x" + std::to_string(groups.z) +
                           " workgroups exceeds the device's limit");

  VkDescriptorSet set = allocate_set(kernel);
  std::vector<VkWriteDescriptorSet> writes(args.size());
  std::vector<VkDescriptorBufferInfo> buffer_infos(args.size());
  std::vector<VkBufferView> views(args.size());
  std::vector<Range> read_ranges, write_ranges;
  uint32_t i = 0;
  for (const Arg& a : args) {
    const Tensor& t = *a.tensor;
    if (!t.valid()) throw Error("kernel " + name + ": binding " + std::to_string(i) + " is an unallocated tensor");
    if (t.arena()->is_measuring())
      throw Error("kernel " + name + ": " + t.describe() + " comes from the measuring arena '" + t.arena()->name() +
                  "' and has no memory");
    if (a.bind != kernel.spec.bindings[i])
      throw Error("kernel " + name + ": binding " + std::to_string(i) + " (" + t.describe() +
                  ") bound with the wrong kind for this kernel");
    VkDeviceSize bytes = t.span_bytes();
    VkWriteDescriptorSet& w = writes[i];
    w.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
    w.dstSet = set;
    w.dstBinding = i;
    w.descriptorCount = 1;
    if (a.bind == BindAs::Storage) {
      if (bytes > info.max_storage_buffer_range)
        throw UnsupportedError("kernel " + name + ": " + t.describe() + " spans " + std::to_string(bytes) +
                               " bytes, more than the device's storage-buffer range " +
                               std::to_string(info.max_storage_buffer_range));
      uint64_t align = std::max<uint64_t>(info.min_storage_buffer_offset_alignment, 1);
      if (t.offset() % align != 0)
        throw ShapeError("kernel " + name + ": " + t.describe() + " starts at byte " + std::to_string(t.offset()) +
                         ", not a multiple of the device's storage-buffer offset alignment " + std::to_string(align));
      buffer_infos[i] = {t.buffer(), t.offset(), bytes};
      w.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      w.pBufferInfo = &buffer_infos[i];
    } else {
      VkDeviceSize texel_bytes = a.bind == BindAs::TexelVec4 ? 16 : 4;
      if (t.offset() % 16 != 0)
        throw ShapeError("kernel " + name + ": " + t.describe() + " starts at byte " + std::to_string(t.offset()) +
                         ", not 16-byte aligned as a texel view needs");
      VkDeviceSize range = (bytes + texel_bytes - 1) / texel_bytes * texel_bytes;  // arena pads to 16 bytes
      if (range / texel_bytes > info.max_texel_buffer_elements)
        throw UnsupportedError("kernel " + name + ": " + t.describe() + " exceeds the device's texel-buffer size " +
                               std::to_string(info.max_texel_buffer_elements) + " elements");
      views[i] = t.arena()->texel_view(t.offset(), range, texel_format(a.bind));
      w.descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
      w.pTexelBufferView = &views[i];
    }
    Range r{t.buffer(), t.offset(), t.offset() + bytes};
    if (a.access != Access::Write) read_ranges.push_back(r);
    if (a.access != Access::Read) write_ranges.push_back(r);
    ++i;
  }
  vkUpdateDescriptorSets(ctx_.device(), static_cast<uint32_t>(writes.size()), writes.data(), 0, nullptr);
  track(read_ranges, write_ranges);
  profile_before();
  vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, kernel.pipeline);
  vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, kernel.layout, 0, 1, &set, 0, nullptr);
  if (push_bytes) vkCmdPushConstants(cmd_, kernel.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, static_cast<uint32_t>(push_bytes), push);
  vkCmdDispatch(cmd_, groups.x, groups.y, groups.z);
  profile_after(name);
  ++dispatches_;
}

void CommandSequence::fill(const Tensor& t, uint32_t pattern) {
  require_recording("fill");
  require_dense("fill", t);
  if (dtype_size(t.dtype()) != 4) throw ShapeError("fill: " + t.describe() + " is not a 32-bit tensor");
  VkDeviceSize bytes = t.span_bytes();
  Range r{t.buffer(), t.offset(), t.offset() + bytes};
  track({}, std::span<const Range>(&r, 1));
  profile_before();
  vkCmdFillBuffer(cmd_, t.buffer(), t.offset(), bytes, pattern);
  profile_after("fill");
}

void CommandSequence::fill(const Tensor& t, float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  fill(t, bits);
}

void CommandSequence::copy(const Tensor& src, const Tensor& dst) {
  require_recording("copy");
  require_dense("copy", src);
  require_dense("copy", dst);
  VkDeviceSize bytes = src.span_bytes();
  if (bytes != dst.span_bytes())
    throw ShapeError("copy: " + src.describe() + " and " + dst.describe() + " differ in size");
  Range rs{src.buffer(), src.offset(), src.offset() + bytes};
  Range rd{dst.buffer(), dst.offset(), dst.offset() + bytes};
  track(std::span<const Range>(&rs, 1), std::span<const Range>(&rd, 1));
  VkBufferCopy region{src.offset(), dst.offset(), bytes};
  profile_before();
  vkCmdCopyBuffer(cmd_, src.buffer(), dst.buffer(), 1, &region);
  profile_after("copy");
}

void CommandSequence::mark(const std::string& label) {
  require_recording("mark");
  if (!queries_) return;
  if (mark_labels_.size() >= kMaxMarks) throw Error("CommandSequence::mark: more than 256 timestamps");
  vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, static_cast<uint32_t>(mark_labels_.size()));
  mark_labels_.push_back(label);
}

std::vector<CommandSequence::Timing> CommandSequence::timings() const {
  std::vector<Timing> out;
  if (!queries_ || mark_labels_.size() < 2) return out;
  std::vector<uint64_t> ticks(mark_labels_.size());
  VkResult r = vkGetQueryPoolResults(ctx_.device(), queries_, 0, static_cast<uint32_t>(ticks.size()),
                                     ticks.size() * sizeof(uint64_t), ticks.data(), sizeof(uint64_t),
                                     VK_QUERY_RESULT_64_BIT);
  if (r != VK_SUCCESS) return out;
  uint64_t mask = ctx_.info().timestamp_valid_bits >= 64 ? ~0ull : ((1ull << ctx_.info().timestamp_valid_bits) - 1);
  for (size_t i = 1; i < ticks.size(); ++i) {
    uint64_t dt = (ticks[i] - ticks[i - 1]) & mask;
    out.push_back({mark_labels_[i], dt * ctx_.info().timestamp_period_ns * 1e-6});
  }
  return out;
}

void CommandSequence::profile_each_dispatch() {
  require_recording("profile_each_dispatch");
  if (profiling_ || !ctx_.info().timestamp_valid_bits) return;
  profiling_ = true;
  barrier();
  write_profile_timestamp();  // the start of the first profiled dispatch
}

void CommandSequence::write_profile_timestamp() {
  uint32_t slot = profile_queries_ % kProfileQueriesPerPool;
  if (slot == 0) {
    VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
    qi.queryCount = kProfileQueriesPerPool;
    VkQueryPool pool;
    VK_CHECK(vkCreateQueryPool(ctx_.device(), &qi, nullptr, &pool));
    profile_pools_.push_back(pool);
    vkCmdResetQueryPool(cmd_, pool, 0, kProfileQueriesPerPool);
  }
  vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, profile_pools_.back(), slot);
  ++profile_queries_;
}

// A full barrier makes the dispatch start only after everything before it has finished, so the
// time from the previous timestamp to the next one is this dispatch's alone.
void CommandSequence::profile_before() {
  if (profiling_) barrier();
}

void CommandSequence::profile_after(const std::string& kernel) {
  if (!profiling_) return;
  write_profile_timestamp();
  profiled_.push_back({kernel, mark_labels_.size()});
}

std::vector<CommandSequence::DispatchTiming> CommandSequence::dispatch_timings() const {
  std::vector<DispatchTiming> out;
  if (profile_queries_ < 2) return out;
  std::vector<uint64_t> ticks(profile_queries_);
  for (size_t p = 0; p < profile_pools_.size(); ++p) {
    uint32_t count = std::min<uint32_t>(kProfileQueriesPerPool, profile_queries_ - uint32_t(p) * kProfileQueriesPerPool);
    VkResult r = vkGetQueryPoolResults(ctx_.device(), profile_pools_[p], 0, count, count * sizeof(uint64_t),
                                       ticks.data() + p * kProfileQueriesPerPool, sizeof(uint64_t),
                                       VK_QUERY_RESULT_64_BIT);
    if (r != VK_SUCCESS) return {};
  }
  uint64_t mask = ctx_.info().timestamp_valid_bits >= 64 ? ~0ull : ((1ull << ctx_.info().timestamp_valid_bits) - 1);
  for (size_t i = 0; i < profiled_.size(); ++i) {
    uint64_t dt = (ticks[i + 1] - ticks[i]) & mask;
    const ProfiledOp& op = profiled_[i];
    std::string phase = op.marks_before < mark_labels_.size() ? mark_labels_[op.marks_before] : "";
    out.push_back({op.kernel, phase, dt * ctx_.info().timestamp_period_ns * 1e-6});
  }
  return out;
}

void CommandSequence::finish() {
  if (finished_) return;
  // Results must be visible to the host (mapped reads) and to the next submission.
  memory_barrier(cmd_, kAllGpuAccess, kAllGpuAccess | VK_ACCESS_HOST_READ_BIT, kGpuStages,
                 kGpuStages | VK_PIPELINE_STAGE_HOST_BIT);
  VK_CHECK(vkEndCommandBuffer(cmd_));
  finished_ = true;
}

void CommandSequence::run() {
  finish();
  ctx_.submit_and_wait(cmd_);
}

}  // namespace tessera
