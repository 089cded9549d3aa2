#include "tessera/arena.hpp"

#include <cstring>

#include "tessera/context.hpp"
#include "tessera/vulkan_error.hpp"

namespace tessera {

namespace {

std::string mib(VkDeviceSize bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

constexpr VkBufferUsageFlags kTensorUsage =
    VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
    VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;

}  // namespace

Arena::Arena(Context& ctx, VkDeviceSize capacity_bytes, std::string name, bool map_if_possible)
    : ctx_(ctx), name_(std::move(name)) {
  capacity_ = (capacity_bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (capacity_ == 0) throw Error("arena '" + name_ + "': capacity must be positive");
  if (ctx.info().max_memory_allocation_size && capacity_ > ctx.info().max_memory_allocation_size)
    throw OutOfMemoryError("arena '" + name_ + "': " + mib(capacity_) + " exceeds the device's largest allocation (" +
                           mib(ctx.info().max_memory_allocation_size) + ")");
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = capacity_;
  bci.usage = kTensorUsage;
  bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VK_CHECK(vkCreateBuffer(ctx.device(), &bci, nullptr, &buffer_));
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(ctx.device(), buffer_, &req);
  // Device-local first; host-visible+coherent too where the device has it (unified memory),
  // so results can be read without a staging copy.
  uint32_t type = ctx.find_memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
                                       ctx.info().device_local_host_visible
                                           ? VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                                 VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
                                           : VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  mai.allocationSize = req.size;
  mai.memoryTypeIndex = type;
  VkResult r = vkAllocateMemory(ctx.device(), &mai, nullptr, &memory_);
  if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY) {
    vkDestroyBuffer(ctx.device(), buffer_, nullptr);
    throw OutOfMemoryError("arena '" + name_ + "': the device could not allocate " + mib(capacity_) + " (" +
                           vk_result_name(r) + ")");
  }
  if (r < 0) vkDestroyBuffer(ctx.device(), buffer_, nullptr);
  VK_CHECK(r);
  VK_CHECK(vkBindBufferMemory(ctx.device(), buffer_, memory_, 0));
  VkPhysicalDeviceMemoryProperties mem;
  vkGetPhysicalDeviceMemoryProperties(ctx.physical_device(), &mem);
  auto flags = mem.memoryTypes[type].propertyFlags;
  if (map_if_possible && (flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) && (flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT))
    VK_CHECK(vkMapMemory(ctx.device(), memory_, 0, VK_WHOLE_SIZE, 0, &mapped_));
}

Arena::Arena(Context& ctx, std::string name) : ctx_(ctx), name_(std::move(name)) {
  capacity_ = VkDeviceSize(1) << 62;
}

std::unique_ptr<Arena> Arena::measuring(Context& ctx, std::string name) {
  return std::unique_ptr<Arena>(new Arena(ctx, std::move(name)));
}

std::unique_ptr<Arena> Arena::measured(Context& ctx, std::string name, const std::function<void(Arena&)>& lay_out) {
  Arena measure(ctx, name);
  lay_out(measure);
  auto arena = std::make_unique<Arena>(ctx, measure.peak(), std::move(name));
  lay_out(*arena);
  return arena;
}

Arena::~Arena() {
  if (is_measuring()) return;
  VkDevice d = ctx_.device();
  for (auto& [key, view] : views_) vkDestroyBufferView(d, view, nullptr);
  if (mapped_) vkUnmapMemory(d, memory_);
  vkDestroyBuffer(d, buffer_, nullptr);
  vkFreeMemory(d, memory_, nullptr);
}

Tensor Arena::allocate(const Shape& shape, DType dtype, std::string name) {
  for (int64_t d : shape)
    if (d <= 0)
      throw ShapeError("arena '" + name_ + "': tensor '" + name + "' has a non-positive dimension in " +
                       shape_string(shape));
  // Pad to 16 bytes so a vec4 texel view may cover the whole tensor.
  VkDeviceSize bytes = (static_cast<VkDeviceSize>(shape_numel(shape)) * dtype_size(dtype) + 15) / 16 * 16;
  VkDeviceSize begin = (used_ + kAlignment - 1) / kAlignment * kAlignment;
  if (begin + bytes > capacity_)
    throw OutOfMemoryError("arena '" + name_ + "' exhausted: tensor '" + name + "' " + shape_string(shape) + " " +
                           dtype_name(dtype) + " needs " + mib(bytes) + ", " + mib(capacity_ - std::min(begin, capacity_)) +
                           " of " + mib(capacity_) + " free");
  Tensor t;
  t.arena_ = this;
  t.offset_ = begin;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.batch_stride_ = shape.empty() ? 0 : shape_numel(shape) / shape[0];
  t.name_ = std::move(name);
  used_ = begin + bytes;
  peak_ = std::max(peak_, used_);
  largest_tensor_ = std::max(largest_tensor_, bytes);
  return t;
}

void Arena::release(Mark m) {
  if (m > used_) throw Error("arena '" + name_ + "': release to a mark beyond the current use");
  used_ = m;
}

VkBufferView Arena::texel_view(VkDeviceSize offset, VkDeviceSize range, VkFormat format) {
  if (is_measuring()) throw Error("arena '" + name_ + "' only measures sizes; its tensors cannot be bound");
  auto key = std::make_tuple(offset, range, static_cast<int>(format));
  if (auto it = views_.find(key); it != views_.end()) return it->second;
  VkBufferViewCreateInfo ci{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
  ci.buffer = buffer_;
  ci.format = format;
  ci.offset = offset;
  ci.range = range;
  VkBufferView view;
  VK_CHECK(vkCreateBufferView(ctx_.device(), &ci, nullptr, &view));
  views_.emplace(key, view);
  return view;
}

void Arena::copy_via_staging(const Tensor& t, std::byte* host, VkDeviceSize bytes, bool to_device) {
  VkDevice d = ctx_.device();
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = bytes;
  bci.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  VkBuffer staging;
  VK_CHECK(vkCreateBuffer(d, &bci, nullptr, &staging));
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(d, staging, &req);
  VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  mai.allocationSize = req.size;
  mai.memoryTypeIndex = ctx_.find_memory_type(
      req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
      to_device ? 0 : VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
  VkDeviceMemory mem;
  VkResult r = vkAllocateMemory(d, &mai, nullptr, &mem);
  if (r < 0) {
    vkDestroyBuffer(d, staging, nullptr);
    throw OutOfMemoryError("staging buffer of " + mib(bytes) + " for '" + t.name() + "': " + vk_result_name(r));
  }
  struct Cleanup {
    VkDevice d;
    VkBuffer b;
    VkDeviceMemory m;
    ~Cleanup() {
      vkDestroyBuffer(d, b, nullptr);
      vkFreeMemory(d, m, nullptr);
    }
  } cleanup{d, staging, mem};
  VK_CHECK(vkBindBufferMemory(d, staging, mem, 0));
  void* p;
  VK_CHECK(vkMapMemory(d, mem, 0, VK_WHOLE_SIZE, 0, &p));
  if (to_device) std::memcpy(p, host, bytes);
  ctx_.run_once([&](VkCommandBuffer cmd) {
    VkBufferCopy region{};
    region.size = bytes;
    if (to_device) {
      region.dstOffset = t.offset();
      vkCmdCopyBuffer(cmd, staging, buffer_, 1, &region);
    } else {
      region.srcOffset = t.offset();
      vkCmdCopyBuffer(cmd, buffer_, staging, 1, &region);
    }
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_SHADER_READ_BIT;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, nullptr, 0,
                         nullptr);
  });
  if (!to_device) std::memcpy(host, p, bytes);
  vkUnmapMemory(d, mem);
}

void Arena::upload(const Tensor& t, std::span<const std::byte> bytes) {
  if (is_measuring()) throw Error("arena '" + name_ + "' only measures sizes; cannot upload " + t.describe());
  if (t.arena() != this) throw Error("arena '" + name_ + "': upload of " + t.describe() + " from another arena");
  require_dense("upload", t);
  VkDeviceSize need = static_cast<VkDeviceSize>(t.numel()) * dtype_size(t.dtype());
  if (bytes.size() != need)
    throw ShapeError("upload to " + t.describe() + ": got " + std::to_string(bytes.size()) + " bytes, expected " +
                     std::to_string(need));
  if (mapped_) {
    std::memcpy(static_cast<std::byte*>(mapped_) + t.offset(), bytes.data(), need);
  } else {
    copy_via_staging(t, const_cast<std::byte*>(bytes.data()), need, true);
  }
}

void Arena::download(const Tensor& t, std::span<std::byte> bytes) {
  if (is_measuring()) throw Error("arena '" + name_ + "' only measures sizes; cannot download " + t.describe());
  if (t.arena() != this) throw Error("arena '" + name_ + "': download of " + t.describe() + " from another arena");
  require_dense("download", t);
  VkDeviceSize need = static_cast<VkDeviceSize>(t.numel()) * dtype_size(t.dtype());
  if (bytes.size() != need)
    throw ShapeError("download of " + t.describe() + ": buffer has " + std::to_string(bytes.size()) +
                     " bytes, expected " + std::to_string(need));
  if (mapped_) {
    std::memcpy(bytes.data(), static_cast<const std::byte*>(mapped_) + t.offset(), need);
  } else {
    copy_via_staging(t, bytes.data(), need, false);
  }
}

void upload_f32(const Tensor& t, std::span<const float> values) {
  require_dtype("upload_f32", t, DType::F32);
  t.arena()->upload(t, std::as_bytes(values));
}

std::vector<float> download_f32(const Tensor& t) {
  require_dtype("download_f32", t, DType::F32);
  std::vector<float> v(static_cast<size_t>(t.numel()));
  t.arena()->download(t, std::as_writable_bytes(std::span<float>(v)));
  return v;
}

void upload_u32(const Tensor& t, std::span<const uint32_t> values) {
  if (t.dtype() != DType::U32 && t.dtype() != DType::I32) require_dtype("upload_u32", t, DType::U32);
  t.arena()->upload(t, std::as_bytes(values));
}

std::vector<uint32_t> download_u32(const Tensor& t) {
  if (t.dtype() != DType::U32 && t.dtype() != DType::I32) require_dtype("download_u32", t, DType::U32);
  std::vector<uint32_t> v(static_cast<size_t>(t.numel()));
  t.arena()->download(t, std::as_writable_bytes(std::span<uint32_t>(v)));
  return v;
}

}  // namespace tessera
