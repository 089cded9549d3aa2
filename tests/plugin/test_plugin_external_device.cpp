// The host's own VkInstance/VkDevice handed to Tessera: the queue lock is used around every
// submit, results arrive as a context-owned VkImage (timeline wait) and as a copy into the
// host's VkImage, both equal to the pixels; the host's device outlives the context.
#include <cstring>

#include "plugin/plugin_test.hpp"

namespace tessera::testing {
namespace {

#define VK_OK(call) ASSERT_EQ((call), VK_SUCCESS) << #call

// A host engine's device: validation on as in the suite, messages collected here.
class HostDevice {
 public:
  VkInstance instance = VK_NULL_HANDLE;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  uint32_t family = 0;
  std::vector<std::string> messages;

  void create() {
    const char* v = std::getenv("TESSERA_VALIDATION");
    const bool validation = !(v && std::string(v) == "0");
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.apiVersion = VK_API_VERSION_1_2;
    const char* layer = "VK_LAYER_KHRONOS_validation";
    const char* ext = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
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
        static_cast<HostDevice*>(user)->messages.push_back(data->pMessage);
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
    f12.timelineSemaphore = VK_TRUE;
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dci.pNext = &f12;
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    VK_OK(vkCreateDevice(physical, &dci, nullptr, &device));
    vkGetDeviceQueue(device, family, 0, &queue);
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pci.queueFamilyIndex = family;
    VK_OK(vkCreateCommandPool(device, &pci, nullptr, &pool_));
  }

  ~HostDevice() {
    if (pool_) vkDestroyCommandPool(device, pool_, nullptr);
    if (device) vkDestroyDevice(device, nullptr);
    if (messenger_) {
      auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
          vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT"));
      destroy(instance, messenger_, nullptr);
    }
    if (instance) vkDestroyInstance(instance, nullptr);
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
    bci.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
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
};

struct QueueLock {
  int depth = 0, calls = 0;
  bool unbalanced = false;
  static void lock(void* user) {
    auto* self = static_cast<QueueLock*>(user);
    self->unbalanced |= self->depth++ != 0;
    self->calls++;
  }
  static void unlock(void* user) {
    auto* self = static_cast<QueueLock*>(user);
    self->unbalanced |= --self->depth != 0;
  }
};

TEST(PluginExternalDevice, UsesTheHostDeviceAndDeliversVkImages) {
  HostDevice host;
  host.create();
  if (::testing::Test::HasFatalFailure()) return;
  QueueLock queue_lock;
  LogSink sink;
  tsr_context_desc d = context_desc(&sink);
  d.vulkan.instance = host.instance;
  d.vulkan.physical_device = host.physical;
  d.vulkan.device = host.device;
  d.vulkan.queue_family_index = host.family;
  d.vulkan.features = TSR_VULKAN_FEATURE_TIMELINE_SEMAPHORE;
  d.vulkan.lock_queue = QueueLock::lock;
  d.vulkan.unlock_queue = QueueLock::unlock;
  d.vulkan.queue_lock_user_data = &queue_lock;
  const uint32_t no_such_family = 99;
  d.vulkan.result_queue_families = &no_such_family;
  d.vulkan.result_queue_family_count = 1;
  tsr_context refused;
  EXPECT_EQ(tsr_context_create(&d, &refused), TSR_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(tsr_get_last_error(), "result_queue_families[0] = 99")) << tsr_get_last_error();
  d.vulkan.result_queue_families = &host.family;  // the family the host samples on: ours here
  tsr_context ctx = create_context(d);
  tsr_model model = load_test_model(ctx);
  tsr_generate_desc g = generate_desc(model, 3, 4);
  g.width = 16;
  g.height = 8;
  tsr_job job = submit(ctx, g);
  std::vector<uint8_t> pixels = run_to_end(ctx, job, 16, 8, 4.0);
  EXPECT_GT(queue_lock.calls, 4) << "Tessera submitted without the host's queue lock";

  // The context-owned image, waited on through the timeline semaphore by the host's GPU work.
  tsr_vk_image image;
  ASSERT_EQ(tsr_job_get_vk_image(job, &image), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_NE(image.image, VK_NULL_HANDLE);
  EXPECT_EQ(image.format, VK_FORMAT_R8G8B8A8_UNORM);
  EXPECT_EQ(image.layout, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL);
  EXPECT_EQ(image.width, 16u);
  EXPECT_EQ(image.height, 8u);
  ASSERT_NE(image.semaphore, VK_NULL_HANDLE);
  EXPECT_GT(image.wait_value, 0u);
  EXPECT_EQ(host.read_image(image.image, image.layout, 16, 8, image.semaphore, image.wait_value), pixels);
  tsr_vk_image again;
  ASSERT_EQ(tsr_job_get_vk_image(job, &again), TSR_SUCCESS);
  EXPECT_EQ(again.image, image.image);

  // A copy into the host's own image (offset inside a larger one), left in TRANSFER_SRC layout.
  VkImageCreateInfo ici{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
  ici.imageType = VK_IMAGE_TYPE_2D;
  ici.format = VK_FORMAT_R8G8B8A8_SRGB;
  ici.extent = {32, 16, 1};
  ici.mipLevels = ici.arrayLayers = 1;
  ici.samples = VK_SAMPLE_COUNT_1_BIT;
  ici.usage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT | VK_IMAGE_USAGE_SAMPLED_BIT;
  VkImage mine;
  VK_OK(vkCreateImage(host.device, &ici, nullptr, &mine));
  VkMemoryRequirements req;
  vkGetImageMemoryRequirements(host.device, mine, &req);
  VkDeviceMemory mine_memory = host.allocate(req, 0);
  VK_OK(vkBindImageMemory(host.device, mine, mine_memory, 0));
  tsr_vk_image_copy_desc copy;
  std::memset(&copy, 0, sizeof copy);
  copy.struct_size = sizeof copy;
  copy.image = mine;
  copy.format = VK_FORMAT_R8G8B8A8_SRGB;
  copy.old_layout = VK_IMAGE_LAYOUT_UNDEFINED;
  copy.new_layout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
  copy.x = 16;
  copy.width = ici.extent.width;  // the image as created (since 1.2)
  copy.height = ici.extent.height;
  copy.usage = ici.usage;
  VkSemaphore sem = VK_NULL_HANDLE;
  uint64_t value = 0;
  ASSERT_EQ(tsr_job_copy_to_vk_image(job, &copy, &sem, &value), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(sem, image.semaphore);
  EXPECT_GT(value, image.wait_value);
  std::vector<uint8_t> whole = host.read_image(mine, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, 32, 16, sem, value);
  for (int y = 0; y < 8; ++y)
    EXPECT_EQ(0, std::memcmp(whole.data() + (y * 32 + 16) * 4, pixels.data() + y * 16 * 4, 16 * 4)) << "row " << y;
  copy.format = VK_FORMAT_R16G16B16A16_SFLOAT;
  EXPECT_EQ(tsr_job_copy_to_vk_image(job, &copy, nullptr, nullptr), TSR_ERROR_UNSUPPORTED);
  EXPECT_TRUE(contains(tsr_get_last_error(), "R8G8B8A8")) << tsr_get_last_error();

  ASSERT_EQ(tsr_job_destroy(job), TSR_SUCCESS);
  ASSERT_EQ(tsr_context_destroy(ctx), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_FALSE(queue_lock.unbalanced);
  EXPECT_EQ(queue_lock.depth, 0);
  // The host's device is still the host's: alive and usable after the context is gone.
  EXPECT_EQ(vkDeviceWaitIdle(host.device), VK_SUCCESS);
  vkDestroyImage(host.device, mine, nullptr);
  vkFreeMemory(host.device, mine_memory, nullptr);
  sink.expect_no_validation_messages();
  for (const auto& m : host.messages) ADD_FAILURE() << "Vulkan validation: " << m;
}

}  // namespace
}  // namespace tessera::testing
