// VkOwned: RAII for one Vulkan object of a device (images, device memory, command pools,
// fences, semaphores), destroyed with its owner, so that code creating several objects in a row
// needs no try/catch to clean up after a failure part way through.
#pragma once
#include <vulkan/vulkan.h>

#include <utility>

#include "tessera/vulkan_error.hpp"

namespace tessera {

// Destroy: vkDestroyImage, vkFreeMemory, ... (all take device, handle, allocator).
template <class Handle, auto Destroy>
class VkOwned {
 public:
  VkOwned() = default;
  VkOwned(VkDevice device, Handle handle) : device_(device), handle_(handle) {}
  // vkCreate*/vkAllocate* `create` with `info`; throws a VulkanError naming `what` on failure.
  template <class Info>
  static VkOwned create(VkDevice device,
                        VkResult (*create)(VkDevice, const Info*, const VkAllocationCallbacks*, Handle*),
                        const Info& info, const char* what) {
    Handle handle = VK_NULL_HANDLE;
    if (VkResult r = create(device, &info, nullptr, &handle); r != VK_SUCCESS) throw VulkanError(what, r);
    return {device, handle};
  }
  VkOwned(VkOwned&& other) noexcept : device_(other.device_), handle_(std::exchange(other.handle_, VK_NULL_HANDLE)) {}
  VkOwned& operator=(VkOwned&& other) noexcept {
    if (this != &other) {
      reset();
      device_ = other.device_;
      handle_ = std::exchange(other.handle_, VK_NULL_HANDLE);
    }
    return *this;
  }
  ~VkOwned() { reset(); }

  void reset() {
    if (handle_) Destroy(device_, std::exchange(handle_, VK_NULL_HANDLE), nullptr);
  }
  Handle get() const { return handle_; }
  const Handle* address() const { return &handle_; }  // for the pFoo arrays of Vulkan info structs
  explicit operator bool() const { return handle_ != VK_NULL_HANDLE; }

 private:
  VkDevice device_ = VK_NULL_HANDLE;
  Handle handle_ = VK_NULL_HANDLE;
};

using OwnedImage = VkOwned<VkImage, vkDestroyImage>;
using OwnedMemory = VkOwned<VkDeviceMemory, vkFreeMemory>;
using OwnedCommandPool = VkOwned<VkCommandPool, vkDestroyCommandPool>;
using OwnedFence = VkOwned<VkFence, vkDestroyFence>;
using OwnedSemaphore = VkOwned<VkSemaphore, vkDestroySemaphore>;

}  // namespace tessera
