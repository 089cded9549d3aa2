// The Vulkan layer's error: a failed Vulkan call, named with its VkResult (runtime/src/vk/error.cpp).
#pragma once
#include <vulkan/vulkan.h>

#include <string>

#include "tessera/error.hpp"

namespace tessera {

// A Vulkan call failed; the message includes the call and the VkResult name.
class VulkanError : public Error {
 public:
  VulkanError(const std::string& what, int vk_result);
  int result() const { return result_; }

 private:
  int result_;
};

const char* vk_result_name(int vk_result);

}  // namespace tessera

// VK_CHECK: throw a VulkanError naming the call when a Vulkan function fails (a negative
// VkResult; the positive ones - VK_NOT_READY, VK_TIMEOUT, ... - are for the caller to read).
#define VK_CHECK(call)                                       \
  do {                                                       \
    VkResult vk_check_result_ = (call);                      \
    if (vk_check_result_ < 0) {                              \
      throw ::tessera::VulkanError(#call, vk_check_result_); \
    }                                                        \
  } while (0)
