// The host's own VkInstance/VkDevice handed to Tessera: the queue lock is used around every
// submit, results arrive as a context-owned VkImage (timeline wait) and as a copy into the
// host's VkImage, both equal to the pixels; the host's device outlives the context.
#include <cstring>

#include "plugin/host_device.hpp"

namespace tessera::testing {
namespace {

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
  d.vulkan = host.vulkan_device(TSR_VULKAN_FEATURE_TIMELINE_SEMAPHORE);
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
  for (const auto& m : host.take_messages()) ADD_FAILURE() << "Vulkan validation: " << m;
}

}  // namespace
}  // namespace tessera::testing
