// Context: one Vulkan device and one compute queue, either created by Tessera (headless,
// best device first) or adopted from a host engine. Owns the pipeline registry and the
// validation-message log that tests assert on.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <vulkan/vulkan.h>

namespace tessera {

class KernelRegistry;

// How the kernels where it matters (conv2d, matmul, fused attention) read their operands.
// TexelFetch: samplerBuffer texel fetches, values shared across a subgroup with
// subgroupBroadcast, no shared memory; the default on CPU devices (lavapipe vectorizes texel
// fetches but runs shared-memory loads lane by lane). SharedTiles: tiles staged in shared
// memory; the default on GPUs. Both run on any device (tests cover both on lavapipe).
enum class KernelVariant { TexelFetch, SharedTiles };
// "texel-fetch" / "shared-tiles".
const char* kernel_variant_name(KernelVariant);
// The variant a name means: kernel_variant_name's, or the older "cpu" (TexelFetch) and "gpu"
// (SharedTiles) that `tessera bench --variant` took before; nullopt for anything else.
std::optional<KernelVariant> parse_kernel_variant(std::string_view name);

struct DeviceInfo {
  std::string name;
  VkPhysicalDeviceType type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
  uint32_t vendor_id = 0;
  uint32_t api_version = 0;
  std::string driver;             // driverName + driverInfo where known
  std::string selection_reason;   // why this device was picked (or "adopted from host")
  uint32_t subgroup_size = 1;
  bool subgroup_basic = false;    // subgroupBroadcast & friends usable in compute
  bool subgroup_shuffle = false;
  bool subgroup_arithmetic = false;
  bool shader_float16 = false;    // enabled on the device
  bool storage_16bit = false;     // enabled on the device
  bool timeline_semaphore = false;  // enabled on the device (results a host waits on)
  uint32_t max_workgroup_invocations = 0;
  uint32_t max_workgroup_count[3] = {0, 0, 0};
  uint32_t max_shared_memory = 0;
  uint64_t max_storage_buffer_range = 0;
  uint64_t max_texel_buffer_elements = 0;
  uint64_t min_storage_buffer_offset_alignment = 0;
  uint64_t min_texel_buffer_offset_alignment = 0;
  uint64_t max_memory_allocation_size = 0;
  float timestamp_period_ns = 0;   // 0 when the queue has no timestamps
  uint32_t timestamp_valid_bits = 0;
  uint64_t device_local_bytes = 0;
  bool device_local_host_visible = false;  // unified memory: tensors can be mapped

  // Multi-line human-readable summary (name, type, limits, optional features in use).
  std::string describe() const;
};

struct ContextOptions {
  // Enable VK_LAYER_KHRONOS_validation and capture its messages. Default: TESSERA_VALIDATION=1.
  bool validation = false;
  bool validation_from_env = true;
  // Index ("1") or case-insensitive name substring ("llvmpipe"). Default: TESSERA_DEVICE.
  std::string device_selector;
  // Where the VkPipelineCache is persisted. Empty: TESSERA_PIPELINE_CACHE, else
  // $XDG_CACHE_HOME/tessera or ~/.cache/tessera; "none" disables persistence.
  std::string pipeline_cache_dir;
  // Force a kernel variant (tests use this to cover both on lavapipe).
  bool force_variant = false;
  KernelVariant variant = KernelVariant::SharedTiles;
  // Features to leave unused even when present (to test fallback paths).
  bool disable_subgroups = false;
  bool disable_float16 = false;
  // Portable mode (docs/portable.md): the inference kernels compute the same bits on every
  // conformant device and in the C++ oracle, whatever the variant. Slower; training is
  // unaffected (its kernels are the fast ones either way).
  bool portable = false;
};

// Handles given by a host engine. Tessera never destroys them and never creates a second
// instance. The host states which optional features it enabled on its device.
struct ExternalDevice {
  VkInstance instance = VK_NULL_HANDLE;
  VkPhysicalDevice physical_device = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  uint32_t queue_family = 0;
  uint32_t queue_index = 0;
  bool shader_float16_enabled = false;
  bool storage_16bit_enabled = false;
  bool timeline_semaphore_enabled = false;
  // Called around every vkQueueSubmit/vkQueueWaitIdle when the queue is shared.
  std::function<void()> lock_queue;
  std::function<void()> unlock_queue;
};

class Context {
 public:
  static std::unique_ptr<Context> create(const ContextOptions& options = {});
  static std::unique_ptr<Context> adopt(const ExternalDevice& external, const ContextOptions& options = {});
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const DeviceInfo& info() const { return info_; }
  KernelVariant variant() const { return variant_; }
  void set_variant(KernelVariant v) { variant_ = v; }
  // Portable mode (ContextOptions::portable); ops read it when they record.
  bool portable() const { return portable_; }
  void set_portable(bool portable) { portable_ = portable; }
  // The kernel ops dispatch for `name`: its portable build (`name`_portable, a row of
  // shaders/variants.txt) in portable mode, else `name`. Only for kernels that have one.
  std::string mode_kernel(const std::string& name) const { return portable_ ? name + "_portable" : name; }
  bool owns_device() const { return owns_device_; }

  VkInstance instance() const { return instance_; }
  VkPhysicalDevice physical_device() const { return physical_device_; }
  VkDevice device() const { return device_; }
  VkQueue queue() const { return queue_; }
  uint32_t queue_family() const { return queue_family_; }
  KernelRegistry& kernels() { return *kernels_; }

  // Memory type index for the given requirements and preferred/required flags; throws if none.
  uint32_t find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags required,
                            VkMemoryPropertyFlags preferred) const;

  // Submits one command buffer on the queue (under the host's queue lock if any) and waits.
  void submit_and_wait(VkCommandBuffer cmd);
  // Submits without waiting (under the host's queue lock if any): the caller signals and
  // waits through `submit`'s semaphores or `fence`.
  void submit(const VkSubmitInfo& submit, VkFence fence = VK_NULL_HANDLE);
  // Allocates a one-shot primary command buffer, lets `record` fill it, submits, waits, frees.
  void run_once(const std::function<void(VkCommandBuffer)>& record);
  VkCommandPool command_pool() const { return command_pool_; }

  // Validation messages (warnings and errors) captured since creation or the last clear.
  bool validation_enabled() const { return validation_enabled_; }
  std::vector<std::string> validation_messages() const;
  void clear_validation_messages();

 private:
  Context() = default;
  void start(const ContextOptions& options);
  void query_device_info(bool float16_enabled, bool storage16_enabled, bool timeline_enabled);
  static void install_messenger(Context& ctx);
  void queue_submit(const VkSubmitInfo& submit, VkFence fence);  // caller holds submit_mutex_

  DeviceInfo info_;
  KernelVariant variant_ = KernelVariant::SharedTiles;
  bool portable_ = false;
  bool owns_instance_ = false;
  bool owns_device_ = false;
  bool validation_enabled_ = false;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_device_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  VkCommandPool command_pool_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  std::function<void()> lock_queue_, unlock_queue_;
  std::unique_ptr<KernelRegistry> kernels_;
  mutable std::mutex messages_mutex_;
  std::vector<std::string> messages_;
  std::mutex submit_mutex_;

  friend VkBool32 VKAPI_CALL debug_messenger_callback(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                                      VkDebugUtilsMessageTypeFlagsEXT,
                                                      const VkDebugUtilsMessengerCallbackDataEXT*, void*);
};

}  // namespace tessera
