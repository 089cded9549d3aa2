// CommandSequence: ops append dispatches to one primary command buffer, which is then
// submitted as many times as needed (record once, replay). Barriers are inserted
// automatically from each binding's declared access: a dispatch that reads or writes a
// byte range written since the last barrier, or writes a range read since then, gets a
// compute->compute memory barrier first. Independent dispatches run without one.
#pragma once
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include <vulkan/vulkan.h>

#include "tessera/kernel.hpp"
#include "tessera/tensor.hpp"

namespace tessera {

class Context;

enum class Access : uint8_t { Read, Write, ReadWrite };

struct Arg {
  const Tensor* tensor;
  Access access;
  BindAs bind;
};

// Binding helpers: the order of args must match the kernel's bindings.
inline Arg in(const Tensor& t) { return {&t, Access::Read, BindAs::Storage}; }
inline Arg out(const Tensor& t) { return {&t, Access::Write, BindAs::Storage}; }
inline Arg inout(const Tensor& t) { return {&t, Access::ReadWrite, BindAs::Storage}; }
inline Arg texel(const Tensor& t) { return {&t, Access::Read, BindAs::TexelF32}; }
inline Arg texel4(const Tensor& t) { return {&t, Access::Read, BindAs::TexelVec4}; }
inline Arg texel_u32(const Tensor& t) { return {&t, Access::Read, BindAs::TexelU32}; }

struct Groups {
  uint32_t x = 1, y = 1, z = 1;
};
inline uint32_t div_up(uint64_t n, uint64_t d) { return static_cast<uint32_t>((n + d - 1) / d); }
// Groups for `invocations` threads of a 1-D kernel with `local_size` lanes, spread over x and
// y so no dimension exceeds 65535 groups; shaders use flat_global_index() from common.glsl
// and must bounds-check it.
Groups groups_1d(uint64_t invocations, uint32_t local_size);

class CommandSequence {
 public:
  explicit CommandSequence(Context& ctx);
  ~CommandSequence();
  CommandSequence(const CommandSequence&) = delete;
  CommandSequence& operator=(const CommandSequence&) = delete;

  Context& context() const { return ctx_; }

  // Records one dispatch. `push` is copied into the command buffer (<= 128 bytes).
  void dispatch(const Kernel& kernel, std::initializer_list<Arg> args, const void* push, size_t push_bytes,
                Groups groups);
  template <class Push>
  void dispatch(const Kernel& kernel, std::initializer_list<Arg> args, const Push& push, Groups groups) {
    dispatch(kernel, args, &push, sizeof(Push), groups);
  }
  void dispatch(const Kernel& kernel, std::initializer_list<Arg> args, Groups groups) {
    dispatch(kernel, args, nullptr, 0, groups);
  }

  // Fills a dense tensor's bytes with a 32-bit pattern (vkCmdFillBuffer).
  void fill(const Tensor& t, uint32_t pattern);
  void fill(const Tensor& t, float value);
  // Copies dense src into dense dst (same byte size).
  void copy(const Tensor& src, const Tensor& dst);
  // A full barrier regardless of tracked hazards (e.g. before the host reads a result).
  void barrier();

  // GPU timestamps: `mark(label)` writes a timestamp; after run(), timings() returns the
  // elapsed ms between consecutive marks. No-op on queues without timestamps.
  void mark(const std::string& label);
  struct Timing {
    std::string label;  // label of the mark that ends the interval
    double ms;
  };
  std::vector<Timing> timings() const;

  // Per-dispatch profile (benchmarks): from this call on, every dispatch, fill and copy gets a
  // full barrier before it and a timestamp after it, so each one's GPU time is known. The
  // barriers serialise work a GPU could overlap, so a profiled sequence runs somewhat slower
  // than the same sequence unprofiled: use it to see where time goes, not for headline numbers.
  void profile_each_dispatch();
  struct DispatchTiming {
    std::string kernel;  // shader name, or "fill" / "copy"
    std::string phase;   // label of the first mark() recorded after it ("" if none)
    double ms;
  };
  // After run(): one entry per profiled dispatch, in recording order (empty without timestamps).
  std::vector<DispatchTiming> dispatch_timings() const;

  // Ends recording (implicitly done by the first run()).
  void finish();
  bool finished() const { return finished_; }
  // Submits the recorded buffer and waits for it. May be called any number of times.
  void run();

  uint32_t dispatch_count() const { return dispatches_; }
  uint32_t barrier_count() const { return barriers_; }
  VkCommandBuffer command_buffer() const { return cmd_; }

 private:
  struct Range {
    VkBuffer buffer;
    VkDeviceSize begin, end;
  };
  void track(std::span<const Range> reads, std::span<const Range> writes);
  VkDescriptorSet allocate_set(const Kernel& kernel);
  void require_recording(const char* what) const;
  void profile_before();
  void profile_after(const std::string& kernel);
  void write_profile_timestamp();

  Context& ctx_;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  std::vector<VkDescriptorPool> pools_;
  uint32_t sets_in_pool_ = 0;
  std::vector<Range> pending_reads_, pending_writes_;
  VkQueryPool queries_ = VK_NULL_HANDLE;
  std::vector<std::string> mark_labels_;
  struct ProfiledOp {
    std::string kernel;
    size_t marks_before;
  };
  bool profiling_ = false;
  std::vector<VkQueryPool> profile_pools_;  // chunks of kProfileQueriesPerPool timestamps
  uint32_t profile_queries_ = 0;
  std::vector<ProfiledOp> profiled_;
  bool finished_ = false;
  uint32_t dispatches_ = 0;
  uint32_t barriers_ = 0;
};

}  // namespace tessera
