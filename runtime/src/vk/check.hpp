// VK_CHECK: throw a VulkanError naming the call when a Vulkan function fails.
#pragma once
#include "tessera/error.hpp"

#define VK_CHECK(call)                                     \
  do {                                                     \
    VkResult vk_check_result_ = (call);                    \
    if (vk_check_result_ < 0) {                            \
      throw ::tessera::VulkanError(#call, vk_check_result_); \
    }                                                      \
  } while (0)
