// What tsr_context_create checks about the host's Vulkan and the context's options
// (tessera.h, tsr_vulkan_device and tsr_context_desc): a Vulkan 1.0 instance is refused with a
// message instead of crashing later, a timeline semaphore claimed but not enabled is reported by
// the host's validation layer (Vulkan has no query for enabled features), and
// TSR_CONTEXT_VALIDATION on a host device and an unwritable pipeline cache folder are errors, a
// default cache folder that is not writable a warning.
#include <cstdlib>
#include <fstream>
#include <optional>

#include "plugin/host_device.hpp"

namespace tessera::testing {
namespace {

tsr_result create_on(const HostDevice& host, uint32_t features, LogSink& sink, std::string* error) {
  tsr_context_desc d = context_desc(&sink);
  d.vulkan = host.vulkan_device(features);
  tsr_context ctx{0};
  tsr_result r = tsr_context_create(&d, &ctx);
  *error = tsr_get_last_error();
  if (r == TSR_SUCCESS) {
    EXPECT_EQ(tsr_context_destroy(ctx), TSR_SUCCESS) << tsr_get_last_error();
  }
  return r;
}

// Before 1.2 such an instance was adopted: with TIMELINE the context crashed at destroy (a NULL
// vkWaitSemaphores), without it the validation layer reported API-version and SPIR-V errors.
TEST(PluginVulkanVersion, AVulkan10InstanceIsRefusedWithAMessage) {
  for (uint32_t features : {0u, uint32_t(TSR_VULKAN_FEATURE_TIMELINE_SEMAPHORE)}) {
    HostDevice host;
    HostDeviceOptions options;
    options.api_version = VK_API_VERSION_1_0;
    options.timeline_semaphore = false;
    host.create(options);
    if (::testing::Test::HasFatalFailure()) return;
    LogSink sink;
    std::string error;
    EXPECT_EQ(create_on(host, features, sink, &error), TSR_ERROR_UNSUPPORTED) << "features " << features;
    EXPECT_TRUE(contains(error, "tsr_context_create: ")) << error;
    EXPECT_TRUE(contains(error, "apiVersion below VK_API_VERSION_1_2")) << error;
    sink.expect_no_validation_messages();
    for (const auto& m : host.take_messages()) ADD_FAILURE() << "host's validation layer: " << m;
  }
}

// The documented detection path for an enabled feature Vulkan cannot be asked about: the host's
// validation layer names it when the context makes its timeline semaphore.
TEST(PluginVulkanVersion, ATimelineClaimedButNotEnabledIsReportedByTheHostsValidationLayer) {
  HostDevice host;
  HostDeviceOptions options;
  options.timeline_semaphore = false;
  host.create(options);
  if (::testing::Test::HasFatalFailure()) return;
  if (!host.validation) GTEST_SKIP() << "TESSERA_VALIDATION=0: no validation layer to report it";
  LogSink sink;
  std::string error;
  EXPECT_EQ(create_on(host, TSR_VULKAN_FEATURE_TIMELINE_SEMAPHORE, sink, &error), TSR_SUCCESS) << error;
  bool reported = false;
  for (const auto& m : host.take_messages()) reported |= contains(m, "timelineSemaphore");
  EXPECT_TRUE(reported) << "the host's validation layer did not name timelineSemaphore";
  // Told the truth, the same device makes a context without a message.
  EXPECT_EQ(create_on(host, 0, sink, &error), TSR_SUCCESS) << error;
  for (const auto& m : host.take_messages()) ADD_FAILURE() << "host's validation layer: " << m;
}

// Item 8: TSR_CONTEXT_VALIDATION cannot apply to a host's device (its layers are the host's):
// refused, where before 1.2 it was silently ignored.
TEST(PluginVulkanVersion, ValidationFlagOnAHostDeviceIsRefused) {
  HostDevice host;
  host.create();
  if (::testing::Test::HasFatalFailure()) return;
  LogSink sink;
  tsr_context_desc d = context_desc(&sink);
  d.vulkan = host.vulkan_device(TSR_VULKAN_FEATURE_TIMELINE_SEMAPHORE);
  d.flags = TSR_CONTEXT_VALIDATION;
  tsr_context ctx{0};
  EXPECT_EQ(tsr_context_create(&d, &ctx), TSR_ERROR_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(tsr_get_last_error(), "TSR_CONTEXT_VALIDATION applies to a context's own device"))
      << tsr_get_last_error();
  EXPECT_EQ(ctx.id, 0u);
  for (const auto& m : host.take_messages()) ADD_FAILURE() << "host's validation layer: " << m;
}

// Collects every log line with its level.
struct LevelLog {
  std::vector<std::pair<tsr_log_level, std::string>> lines;
  static void callback(void* user, tsr_log_level level, const char* message) {
    static_cast<LevelLog*>(user)->lines.emplace_back(level, message);
  }
};

// Item 8: a pipeline cache folder given in the desc that cannot be written is an error naming
// it; a default one (TESSERA_PIPELINE_CACHE here) only costs the cache, with a warning.
TEST(PluginVulkanVersion, AnUnwritablePipelineCacheFolderIsAnErrorOrAWarning) {
  const fs::path file = plugin_model_path().parent_path() / "not-a-folder";
  std::ofstream(file) << "x";
  const std::string unwritable = (file / "cache").string();  // below a file: cannot be created
  LogSink sink;
  tsr_context_desc d = context_desc(&sink);
  d.pipeline_cache_dir = unwritable.c_str();
  tsr_context ctx{0};
  EXPECT_EQ(tsr_context_create(&d, &ctx), TSR_ERROR_IO);
  EXPECT_TRUE(contains(tsr_get_last_error(), "pipeline_cache_dir '" + unwritable + "' cannot be created"))
      << tsr_get_last_error();
  const fs::path writable = plugin_model_path().parent_path() / "pipeline-cache";
  d.pipeline_cache_dir = writable.c_str();
  ctx = create_context(d);
  EXPECT_TRUE(fs::is_directory(writable));
  EXPECT_EQ(tsr_context_destroy(ctx), TSR_SUCCESS);

  const char* old = std::getenv("TESSERA_PIPELINE_CACHE");
  const std::optional<std::string> saved = old ? std::optional<std::string>(old) : std::nullopt;
  ::setenv("TESSERA_PIPELINE_CACHE", unwritable.c_str(), 1);
  LevelLog log;
  d.pipeline_cache_dir = nullptr;
  d.log = LevelLog::callback;
  d.log_user_data = &log;
  ctx = create_context(d);
  if (saved)
    ::setenv("TESSERA_PIPELINE_CACHE", saved->c_str(), 1);
  else
    ::unsetenv("TESSERA_PIPELINE_CACHE");
  EXPECT_EQ(tsr_context_destroy(ctx), TSR_SUCCESS);
  bool warned = false;
  for (const auto& [level, line] : log.lines)
    warned |= level == TSR_LOG_WARNING &&
              contains(line, "the pipeline cache is off: its default folder '" + unwritable + "' cannot be created");
  EXPECT_TRUE(warned) << "no warning about the default cache folder";
}

}  // namespace
}  // namespace tessera::testing
