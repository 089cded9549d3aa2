// A host engine's Vulkan for the C API tests (tests/plugin/test_plugin_external_device.cpp,
// test_plugin_concurrency.cpp, test_plugin_vulkan_version.cpp): its own instance (validation on
// as in the suite, optionally synchronization validation), device and queue, the GPU work an
// engine does around Tessera, and the validation messages its instance reported.
#pragma once
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "plugin/plugin_test.hpp"

namespace tessera::testing {

#define VK_OK(call) ASSERT_EQ((call), VK_SUCCESS) << #call

// How a host engine sets up its Vulkan (the ways engines differ that Tessera must handle).
struct HostDeviceOptions {
  uint32_t api_version = VK_API_VERSION_1_2;  // VkApplicationInfo.apiVersion of the instance
  bool timeline_semaphore = true;             // enable timelineSemaphore on the VkDevice
  bool synchronization_validation = false;    // VK_EXT_validation_features: sync validation too
};

// A host engine's device: validation on as in the suite, messages collected here (from any
// thread: Tessera's calls and the host's own threads both report into it).
class HostDevice {
 public:
  VkInstance instance = VK_NULL_HANDLE;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  uint32_t family = 0;
  bool validation = false;

  void create(const HostDeviceOptions& options = {}) {
    const char* v = std::getenv("TESSERA_VALIDATION");
    validation = !(v && std::string(v) == "0");
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.apiVersion = options.api_version;
    const char* layer = "VK_LAYER_KHRONOS_validation";
    const char* ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    VkValidationFeatureEnableEXT sync = VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
    VkValidationFeaturesEXT features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
    features.enabledValidationFeatureCount = 1;
    features.pEnabledValidationFeatures = &sync;
    VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    if (validation && options.synchronization_validation) ici.pNext = &features;
    ici.pApplicationInfo = &app;
    ici.enabledLayerCount = validation ? 1 : 0;
    ici.ppEnabledLayerNames = &layer;
    ici.enabledExtensionCount = validation ? 1 : 0;
    ici.ppEnabledExtensionNames = &ext;
    VK_OK(vkCreateInstance(&ici, nullptr, &instance));
    if (validation) {
      VkDebugUtilsMessengerCreateInfoEXT mci{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
      mci.messageSeverity =
          VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
      mci.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT;
      mci.pfnUserCallback = [](VkDebugUtilsMessageSeverityFlagBitsEXT, VkDebugUtilsMessageTypeFlagsEXT,
                               const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) -> VkBool32 {
        auto* self = static_cast<HostDevice*>(user);
        std::lock_guard<std::mutex> lock(self->messages_mutex_);
        self->messages_.push_back(data->pMessage);
        return VK_FALSE;
      };
      mci.pUserData = this;
      auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
          vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT"));
      ASSERT_NE(create, nullptr);
      VK_OK(create(instance, &mci, nullptr, &messenger_));
    }
    uint32_t n = 1;
    ASSERT_GE(vkEnumeratePhysicalDevices(instance, &n, &physical), 0);
    ASSERT_EQ(n, 1u);
    uint32_t nf = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(physical, &nf, nullptr);
    std::vector<VkQueueFamilyProperties> fams(nf);
    vkGetPhysicalDeviceQueueFamilyProperties(physical, &nf, fams.data());
    while (family < nf && !(fams[family].queueFlags & VK_QUEUE_COMPUTE_BIT)) ++family;
    ASSERT_LT(family, nf);
    float priority = 1;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = family;
    qci.queueCount = 1;
    qci.pQueuePriorities = &priority;
    VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    f12.timelineSemaphore = options.timeline_semaphore;
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    // A 1.0/1.1 instance may not chain the 1.2 feature struct.
    if (options.api_version >= VK_API_VERSION_1_2) dci.pNext = &f12;
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    VK_OK(vkCreateDevice(physical, &dci, nullptr, &device));
    vkGetDeviceQueue(device, family, 0, &queue);
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;  // the frame's buffer is re-recorded
    pci.queueFamilyIndex = family;
    VK_OK(vkCreateCommandPool(device, &pci, nullptr, &pool_));
  }

  ~HostDevice() {
    if (frame_.buffer) {
      vkDestroyFence(device, frame_fence_, nullptr);
      destroy(frame_);
    }
    if (pool_) vkDestroyCommandPool(device, pool_, nullptr);
    if (device) vkDestroyDevice(device, nullptr);
    if (messenger_) {
      auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
          vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT"));
      destroy(instance, messenger_, nullptr);
    }
    if (instance) vkDestroyInstance(instance, nullptr);
  }

  // The handles for tsr_context_desc.vulkan (no queue lock).
  tsr_vulkan_device vulkan_device(uint32_t features) const {
    tsr_vulkan_device v;
    std::memset(&v, 0, sizeof v);
    v.instance = instance;
    v.physical_device = physical;
    v.device = device;
    v.queue_family_index = family;
    v.features = features;
    return v;
  }

  // The validation messages so far (taken: a second call returns only newer ones).
  std::vector<std::string> take_messages() {
    std::lock_guard<std::mutex> lock(messages_mutex_);
    return std::exchange(messages_, {});
  }

  // One frame of the engine's own GPU work on the shared queue (a buffer fill), submitted by the
  // caller, which holds the queue lock; wait_frame() waits for it without the lock.
  void submit_frame(uint32_t value) {
    if (!frame_.buffer) {
      frame_ = readback_buffer(1 << 16);
      VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
      ai.commandPool = pool_;
      ai.commandBufferCount = 1;
      EXPECT_EQ(vkAllocateCommandBuffers(device, &ai, &frame_cmd_), VK_SUCCESS);
      VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
      EXPECT_EQ(vkCreateFence(device, &fci, nullptr, &frame_fence_), VK_SUCCESS);
    }
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    vkBeginCommandBuffer(frame_cmd_, &bi);
    vkCmdFillBuffer(frame_cmd_, frame_.buffer, 0, VK_WHOLE_SIZE, value);
    vkEndCommandBuffer(frame_cmd_);
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &frame_cmd_;
    EXPECT_EQ(vkQueueSubmit(queue, 1, &si, frame_fence_), VK_SUCCESS);
  }
  void wait_frame() {
    EXPECT_EQ(vkWaitForFences(device, 1, &frame_fence_, VK_TRUE, UINT64_MAX), VK_SUCCESS);
    EXPECT_EQ(vkResetFences(device, 1, &frame_fence_), VK_SUCCESS);
  }

  // A host-visible buffer of `bytes`, mapped.
  struct Buffer {
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    void* mapped = nullptr;
  };
  Buffer readback_buffer(VkDeviceSize bytes) {
    Buffer b;
    VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bci.size = bytes;
    bci.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;  // copies and fills
    EXPECT_EQ(vkCreateBuffer(device, &bci, nullptr, &b.buffer), VK_SUCCESS);
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(device, b.buffer, &req);
    b.memory = allocate(req, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    EXPECT_EQ(vkBindBufferMemory(device, b.buffer, b.memory, 0), VK_SUCCESS);
    EXPECT_EQ(vkMapMemory(device, b.memory, 0, VK_WHOLE_SIZE, 0, &b.mapped), VK_SUCCESS);
    return b;
  }
  void destroy(Buffer& b) {
    vkDestroyBuffer(device, b.buffer, nullptr);
    vkFreeMemory(device, b.memory, nullptr);
  }
  VkDeviceMemory allocate(const VkMemoryRequirements& req, VkMemoryPropertyFlags flags) {
    VkPhysicalDeviceMemoryProperties mem;
    vkGetPhysicalDeviceMemoryProperties(physical, &mem);
    VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    mai.allocationSize = req.size;
    for (uint32_t i = 0; i < mem.memoryTypeCount; ++i)
      if ((req.memoryTypeBits & (1u << i)) && (mem.memoryTypes[i].propertyFlags & flags) == flags) {
        mai.memoryTypeIndex = i;
        break;
      }
    VkDeviceMemory m = VK_NULL_HANDLE;
    EXPECT_EQ(vkAllocateMemory(device, &mai, nullptr, &m), VK_SUCCESS);
    return m;
  }

  // The engine's own work: waits for Tessera's timeline value on the GPU, then copies `image`
  // (in `layout`) into a buffer and returns the RGBA8 bytes.
  std::vector<uint8_t> read_image(VkImage image, VkImageLayout layout, uint32_t w, uint32_t h, VkSemaphore wait,
                                  uint64_t value) {
    Buffer b = readback_buffer(VkDeviceSize(w) * h * 4);
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = pool_;
    ai.commandBufferCount = 1;
    VkCommandBuffer cmd;
    EXPECT_EQ(vkAllocateCommandBuffers(device, &ai, &cmd), VK_SUCCESS);
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    vkBeginCommandBuffer(cmd, &bi);
    VkImageMemoryBarrier to_src{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
    to_src.srcAccessMask = 0;
    to_src.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    to_src.oldLayout = layout;
    to_src.newLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
    to_src.srcQueueFamilyIndex = to_src.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    to_src.image = image;
    to_src.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0,
                         nullptr, 1, &to_src);
    VkBufferImageCopy region{};
    region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    region.imageExtent = {w, h, 1};
    vkCmdCopyImageToBuffer(cmd, image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, b.buffer, 1, &region);
    VkImageMemoryBarrier back = to_src;  // leave the image as we found it
    back.srcAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    back.dstAccessMask = 0;
    back.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
    back.newLayout = layout;
    VkBufferMemoryBarrier host{VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER};
    host.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    host.srcQueueFamilyIndex = host.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    host.buffer = b.buffer;
    host.size = VK_WHOLE_SIZE;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, 0, 0, nullptr, 1, &host, 1,
                         &back);
    vkEndCommandBuffer(cmd);
    VkTimelineSemaphoreSubmitInfo ts{VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO};
    ts.waitSemaphoreValueCount = wait ? 1 : 0;
    ts.pWaitSemaphoreValues = &value;
    VkPipelineStageFlags stage = VK_PIPELINE_STAGE_TRANSFER_BIT;
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.pNext = &ts;
    si.waitSemaphoreCount = wait ? 1 : 0;
    si.pWaitSemaphores = &wait;
    si.pWaitDstStageMask = &stage;
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd;
    EXPECT_EQ(vkQueueSubmit(queue, 1, &si, VK_NULL_HANDLE), VK_SUCCESS);
    EXPECT_EQ(vkQueueWaitIdle(queue), VK_SUCCESS);
    vkFreeCommandBuffers(device, pool_, 1, &cmd);
    std::vector<uint8_t> bytes(size_t(w) * h * 4);
    std::memcpy(bytes.data(), b.mapped, bytes.size());
    destroy(b);
    return bytes;
  }

 private:
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  std::mutex messages_mutex_;
  std::vector<std::string> messages_;
  Buffer frame_;
  VkCommandBuffer frame_cmd_ = VK_NULL_HANDLE;
  VkFence frame_fence_ = VK_NULL_HANDLE;
};

}  // namespace tessera::testing
