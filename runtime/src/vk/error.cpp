#include <vulkan/vulkan.h>

#include "tessera/vulkan_error.hpp"

namespace tessera {

const char* vk_result_name(int r) {
  switch (static_cast<VkResult>(r)) {
#define TESSERA_CASE(x) \
  case x:               \
    return #x;
    TESSERA_CASE(VK_SUCCESS)
    TESSERA_CASE(VK_NOT_READY)
    TESSERA_CASE(VK_TIMEOUT)
    TESSERA_CASE(VK_INCOMPLETE)
    TESSERA_CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
    TESSERA_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    TESSERA_CASE(VK_ERROR_INITIALIZATION_FAILED)
    TESSERA_CASE(VK_ERROR_DEVICE_LOST)
    TESSERA_CASE(VK_ERROR_MEMORY_MAP_FAILED)
    TESSERA_CASE(VK_ERROR_LAYER_NOT_PRESENT)
    TESSERA_CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
    TESSERA_CASE(VK_ERROR_FEATURE_NOT_PRESENT)
    TESSERA_CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
    TESSERA_CASE(VK_ERROR_TOO_MANY_OBJECTS)
    TESSERA_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
    TESSERA_CASE(VK_ERROR_FRAGMENTED_POOL)
    TESSERA_CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
    TESSERA_CASE(VK_ERROR_INVALID_SHADER_NV)
    TESSERA_CASE(VK_ERROR_UNKNOWN)
#undef TESSERA_CASE
    default:
      return "VkResult(unknown)";
  }
}

VulkanError::VulkanError(const std::string& what, int vk_result)
    : Error(what + " failed: " + vk_result_name(vk_result)), result_(vk_result) {}

}  // namespace tessera
