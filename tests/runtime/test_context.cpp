#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/kernel.hpp"
#include "tessera/ops/elementwise.hpp"

namespace tessera::testing {
namespace {

class ContextTest : public VulkanTest {};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST_F(ContextTest, ReportsDeviceAndFeatures) {
  const DeviceInfo& info = ctx().info();
  EXPECT_FALSE(info.name.empty());
  EXPECT_GE(info.subgroup_size, 1u);
  EXPECT_GE(info.max_workgroup_invocations, 128u);
  std::string d = info.describe();
  EXPECT_TRUE(contains(d, info.name)) << d;
  EXPECT_TRUE(contains(d, "features used")) << d;
  EXPECT_FALSE(info.selection_reason.empty());
}

TEST_F(ContextTest, UnknownDeviceSelectorListsDevices) {
  ContextOptions o;
  o.validation_from_env = false;
  o.device_selector = "no-such-gpu-anywhere";
  o.pipeline_cache_dir = "none";
  try {
    Context::create(o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "no-such-gpu-anywhere")) << e.what();
    EXPECT_TRUE(contains(e.what(), ctx().info().name)) << "message should list the devices: " << e.what();
  }
}

TEST_F(ContextTest, DeviceSelectorByIndexAndName) {
  ContextOptions o;
  o.validation_from_env = false;
  o.pipeline_cache_dir = "none";
  o.device_selector = "0";
  EXPECT_NO_THROW(Context::create(o));
  o.device_selector = ctx().info().name.substr(0, 4);
  auto c = Context::create(o);
  EXPECT_EQ(c->info().name.substr(0, 4), o.device_selector);
  EXPECT_TRUE(contains(c->info().selection_reason, o.device_selector));
}

// The host engine's path: it creates instance and device; Tessera adopts them, runs work on
// them, and leaves them alive when it is destroyed.
TEST_F(ContextTest, AdoptsHostDevice) {
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.apiVersion = VK_API_VERSION_1_2;
  VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ici.pApplicationInfo = &app;
  VkInstance instance;
  ASSERT_EQ(vkCreateInstance(&ici, nullptr, &instance), VK_SUCCESS);
  uint32_t n = 1;
  VkPhysicalDevice pd;
  vkEnumeratePhysicalDevices(instance, &n, &pd);
  ASSERT_GE(n, 1u);
  float prio = 1;
  VkDeviceQueueCreateInfo q{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  q.queueFamilyIndex = 0;
  q.queueCount = 1;
  q.pQueuePriorities = &prio;
  VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &q;
  VkDevice device;
  ASSERT_EQ(vkCreateDevice(pd, &dci, nullptr, &device), VK_SUCCESS);
  int locks = 0, unlocks = 0;
  {
    ExternalDevice ext;
    ext.instance = instance;
    ext.physical_device = pd;
    ext.device = device;
    ext.lock_queue = [&] { ++locks; };
    ext.unlock_queue = [&] { ++unlocks; };
    ContextOptions o;
    o.pipeline_cache_dir = "none";
    auto host_ctx = Context::adopt(ext, o);
    EXPECT_FALSE(host_ctx->owns_device());
    EXPECT_EQ(host_ctx->info().selection_reason, "adopted from host");
    Arena a(*host_ctx, 1 << 20, "host");
    Tensor x = a.allocate({8}, DType::F32, "x");
    upload_f32(x, std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8});
    CommandSequence seq(*host_ctx);
    ops::add(seq, x, x, x);
    seq.run();
    EXPECT_EQ(download_f32(x), (std::vector<float>{2, 4, 6, 8, 10, 12, 14, 16}));
  }
  EXPECT_GE(locks, 1);
  EXPECT_EQ(locks, unlocks);
  // Still usable by the host after Tessera is gone.
  EXPECT_EQ(vkDeviceWaitIdle(device), VK_SUCCESS);
  vkDestroyDevice(device, nullptr);
  vkDestroyInstance(instance, nullptr);
}

// Context::submit returns at once; the caller waits through the semaphore it signals (the
// plugin hands such timeline values to hosts). Timeline semaphores are enabled where present.
TEST_F(ContextTest, SubmitSignalsATimelineSemaphoreWithoutWaiting) {
  if (!ctx().info().timeline_semaphore) GTEST_SKIP() << "the device has no timeline semaphores";
  Tensor t = arena().allocate({64}, DType::U32, "filled");
  upload_u32(t, std::vector<uint32_t>(64, 0));
  VkSemaphoreTypeCreateInfo type{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO};
  type.semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE;
  VkSemaphoreCreateInfo sci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
  sci.pNext = &type;
  VkSemaphore timeline;
  ASSERT_EQ(vkCreateSemaphore(ctx().device(), &sci, nullptr, &timeline), VK_SUCCESS);
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = ctx().command_pool();
  ai.commandBufferCount = 1;
  VkCommandBuffer cmd;
  ASSERT_EQ(vkAllocateCommandBuffers(ctx().device(), &ai, &cmd), VK_SUCCESS);
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  vkBeginCommandBuffer(cmd, &bi);
  vkCmdFillBuffer(cmd, t.buffer(), t.offset(), 64 * 4, 0xC0FFEEu);
  VkMemoryBarrier host{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  host.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
  vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &host, 0, nullptr, 0,
                       nullptr);
  vkEndCommandBuffer(cmd);
  const uint64_t value = 3;
  VkTimelineSemaphoreSubmitInfo ts{VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO};
  ts.signalSemaphoreValueCount = 1;
  ts.pSignalSemaphoreValues = &value;
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.pNext = &ts;
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd;
  si.signalSemaphoreCount = 1;
  si.pSignalSemaphores = &timeline;
  ctx().submit(si);
  VkSemaphoreWaitInfo wi{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO};
  wi.semaphoreCount = 1;
  wi.pSemaphores = &timeline;
  wi.pValues = &value;
  EXPECT_EQ(vkWaitSemaphores(ctx().device(), &wi, UINT64_MAX), VK_SUCCESS);
  EXPECT_EQ(download_u32(t), std::vector<uint32_t>(64, 0xC0FFEEu));
  vkFreeCommandBuffers(ctx().device(), ctx().command_pool(), 1, &cmd);
  vkDestroySemaphore(ctx().device(), timeline, nullptr);
}

// Proves the suite's safety net works: an invalid Vulkan call is captured as a message
// (which VulkanTest::TearDown turns into a failure).
TEST_F(ContextTest, ValidationMessagesAreCaptured) {
  if (!ctx().validation_enabled()) GTEST_SKIP() << "TESSERA_VALIDATION=0";
  VkBufferCreateInfo bad{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bad.size = 0;  // invalid: VUID-VkBufferCreateInfo-size-00912
  bad.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
  VkBuffer b = VK_NULL_HANDLE;
  vkCreateBuffer(ctx().device(), &bad, nullptr, &b);
  if (b) vkDestroyBuffer(ctx().device(), b, nullptr);
  auto messages = ctx().validation_messages();
  ASSERT_FALSE(messages.empty());
  EXPECT_TRUE(contains(messages[0], "00912")) << messages[0];
  ctx().clear_validation_messages();
}

TEST_F(ContextTest, AdoptRejectsNullHandles) {
  ExternalDevice ext;
  EXPECT_THROW(Context::adopt(ext), Error);
}

TEST_F(ContextTest, PipelineCacheIsPersistedAndReloaded) {
  auto dir = std::filesystem::temp_directory_path() / ("tessera-cache-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  ContextOptions o;
  o.validation_from_env = false;
  o.pipeline_cache_dir = dir.string();
  std::string file;
  {
    auto c = Context::create(o);
    c->kernels().get({"scale_add", {BindAs::Storage, BindAs::Storage, BindAs::Storage}, {256, 1, 1}});
    file = c->kernels().cache_file();
  }
  ASSERT_TRUE(std::filesystem::exists(file)) << file;
  // At least the 32-byte header (lavapipe stores nothing else; GPU drivers store pipelines).
  EXPECT_GE(std::filesystem::file_size(file), 32u);
  // A damaged cache is ignored, not trusted.
  {
    std::ofstream f(file, std::ios::binary | std::ios::trunc);
    f << "garbage";
  }
  {
    auto c = Context::create(o);
    EXPECT_NO_THROW(c->kernels().get({"scale_add", {BindAs::Storage, BindAs::Storage, BindAs::Storage}, {256, 1, 1}}));
  }
  EXPECT_GE(std::filesystem::file_size(file), 32u);  // rewritten whole, not left damaged
  std::filesystem::remove_all(dir);
}

TEST_F(ContextTest, KernelsAreBuiltOnce) {
  KernelSpec spec{"scale_add", {BindAs::Storage, BindAs::Storage, BindAs::Storage}, {128, 1, 1}};
  const Kernel& a = ctx().kernels().get(spec);
  const Kernel& b = ctx().kernels().get(spec);
  EXPECT_EQ(&a, &b);
  spec.local_size = {64, 1, 1};
  EXPECT_NE(&ctx().kernels().get(spec), &a);
}

TEST_F(ContextTest, UnknownShaderAndOversizedWorkgroupAreClearErrors) {
  try {
    ctx().kernels().get({"no_such_kernel", {BindAs::Storage}, {64, 1, 1}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "no_such_kernel")) << e.what();
  }
  try {
    ctx().kernels().get({"scale_add", {BindAs::Storage, BindAs::Storage, BindAs::Storage}, {4096, 4, 1}});
    FAIL();
  } catch (const UnsupportedError& e) {
    EXPECT_TRUE(contains(e.what(), "exceeds the device limit")) << e.what();
  }
}

TEST_F(ContextTest, DisabledFeaturesAreReported) {
  ContextOptions o;
  o.validation_from_env = false;
  o.pipeline_cache_dir = "none";
  o.disable_subgroups = true;
  o.disable_float16 = true;
  auto c = Context::create(o);
  EXPECT_FALSE(c->info().subgroup_basic);
  EXPECT_FALSE(c->info().shader_float16);
  EXPECT_TRUE(contains(c->info().describe(), "subgroups no"));
}

}  // namespace
}  // namespace tessera::testing
