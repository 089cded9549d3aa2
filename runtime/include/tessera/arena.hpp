// Arena: one large device buffer (one VkDeviceMemory) sub-allocated by a bump pointer.
// Training and sampling allocate everything up front, so a bump allocator with marks for
// scoped temporaries is all that is needed, and it makes peak use exact.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <tuple>

#include <vulkan/vulkan.h>

#include "tessera/tensor.hpp"

namespace tessera {

class Context;

class Arena {
 public:
  // Every tensor starts at a multiple of this many bytes (covers storage and texel
  // buffer offset alignment on every device we know, and keeps vec4 loads aligned).
  static constexpr VkDeviceSize kAlignment = 256;

  // map_if_possible=false keeps the memory unmapped even where it is host-visible, which
  // exercises the staging path (used on discrete GPUs) on any device.
  Arena(Context& ctx, VkDeviceSize capacity_bytes, std::string name, bool map_if_possible = true);
  // An arena with no device memory that only counts: allocate() returns tensors whose
  // offsets are real but which cannot be bound, uploaded or downloaded. Used to size an
  // arena by laying tensors out once before the real allocation.
  static std::unique_ptr<Arena> measuring(Context& ctx, std::string name);
  bool is_measuring() const { return buffer_ == VK_NULL_HANDLE; }
  // An arena of exactly the size its tensors need, found by measuring: `lay_out` runs on a
  // measuring arena, then again on the returned one (keep the tensors of that second run).
  static std::unique_ptr<Arena> measured(Context& ctx, std::string name, const std::function<void(Arena&)>& lay_out);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  Context& context() const { return ctx_; }
  const std::string& name() const { return name_; }
  VkBuffer buffer() const { return buffer_; }

  // Throws OutOfMemoryError naming the tensor, the request and what is free.
  Tensor allocate(const Shape& shape, DType dtype, std::string name);

  using Mark = VkDeviceSize;
  Mark mark() const { return used_; }
  void release(Mark m);  // frees everything allocated after the mark
  void reset() { release(0); }

  VkDeviceSize capacity() const { return capacity_; }
  VkDeviceSize used() const { return used_; }
  VkDeviceSize peak() const { return peak_; }
  VkDeviceSize largest_tensor() const { return largest_tensor_; }  // bytes of the largest allocate()
  bool host_mapped() const { return mapped_ != nullptr; }

  // Host <-> device copies. Direct memcpy when the memory is host-visible (lavapipe,
  // integrated GPUs), else through a staging buffer. The device must be idle for these
  // tensors (sequences are run to completion before results are read).
  void upload(const Tensor& t, std::span<const std::byte> bytes);
  void download(const Tensor& t, std::span<std::byte> bytes);

  // A cached VkBufferView over [offset, offset+range) in the given format.
  VkBufferView texel_view(VkDeviceSize offset, VkDeviceSize range, VkFormat format);

 private:
  Arena(Context& ctx, std::string name);  // measuring
  void copy_via_staging(const Tensor& t, std::byte* host, VkDeviceSize bytes, bool to_device);

  Context& ctx_;
  std::string name_;
  VkBuffer buffer_ = VK_NULL_HANDLE;
  VkDeviceMemory memory_ = VK_NULL_HANDLE;
  void* mapped_ = nullptr;
  VkDeviceSize capacity_ = 0;
  VkDeviceSize used_ = 0;
  VkDeviceSize peak_ = 0;
  VkDeviceSize largest_tensor_ = 0;
  std::map<std::tuple<VkDeviceSize, VkDeviceSize, int>, VkBufferView> views_;
};

// Typed conveniences over Arena::upload/download for whole dense tensors.
void upload_f32(const Tensor& t, std::span<const float> values);
std::vector<float> download_f32(const Tensor& t);
void upload_u32(const Tensor& t, std::span<const uint32_t> values);
std::vector<uint32_t> download_u32(const Tensor& t);

}  // namespace tessera
