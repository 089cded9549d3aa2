#include "tessera/context.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "tessera/kernel.hpp"
#include "tessera/vulkan_error.hpp"

namespace tessera {

namespace {

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0 && std::strcmp(v, "false") != 0;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

const char* type_name(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
  }
}

int type_rank(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
  }
}

bool has_layer(const char* name) {
  uint32_t n = 0;
  vkEnumerateInstanceLayerProperties(&n, nullptr);
  std::vector<VkLayerProperties> layers(n);
  vkEnumerateInstanceLayerProperties(&n, layers.data());
  for (auto& l : layers)
    if (std::strcmp(l.layerName, name) == 0) return true;
  return false;
}

bool has_instance_extension(const char* name) {
  uint32_t n = 0;
  vkEnumerateInstanceExtensionProperties(nullptr, &n, nullptr);
  std::vector<VkExtensionProperties> exts(n);
  vkEnumerateInstanceExtensionProperties(nullptr, &n, exts.data());
  for (auto& e : exts)
    if (std::strcmp(e.extensionName, name) == 0) return true;
  return false;
}

// First queue family with compute; prefers a compute-only family (async compute on GPUs).
int compute_family(VkPhysicalDevice pd) {
  uint32_t n = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, nullptr);
  std::vector<VkQueueFamilyProperties> fams(n);
  vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, fams.data());
  int best = -1;
  for (uint32_t i = 0; i < n; ++i) {
    if (!(fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
    if (best < 0) best = static_cast<int>(i);
    if (!(fams[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) return static_cast<int>(i);
  }
  return best;
}

std::string default_cache_dir() {
  if (const char* p = std::getenv("TESSERA_PIPELINE_CACHE"); p && *p) return p;
  if (const char* p = std::getenv("XDG_CACHE_HOME"); p && *p) return std::string(p) + "/tessera";
  if (const char* p = std::getenv("HOME"); p && *p) return std::string(p) + "/.cache/tessera";
  return "none";
}

// A host's device must give Tessera Vulkan 1.2 (SPIR-V 1.5 shaders, timeline semaphores) and
// have the features the host claims. The instance's apiVersion cannot be queried, but it caps the
// core commands a device exposes: by the spec's vkGetDeviceProcAddr table, a core command above
// the requested version is NULL (checked on lavapipe with and without the validation layer:
// vkWaitSemaphores is NULL under a 1.0 instance). Whether a claimed feature was *enabled* cannot be
// queried either; only that the device supports it (a validation layer on the host's instance
// reports a claimed timeline semaphore that was not enabled, at the context's first semaphore).
void require_vulkan_1_2(const ExternalDevice& ext) {
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(ext.physical_device, &props);
  if (props.apiVersion < VK_API_VERSION_1_2)
    throw UnsupportedError(std::string("the host's physical device '") + props.deviceName + "' supports Vulkan " +
                           std::to_string(VK_API_VERSION_MAJOR(props.apiVersion)) + "." +
                           std::to_string(VK_API_VERSION_MINOR(props.apiVersion)) + "; Tessera needs 1.2");
  if (!vkGetDeviceProcAddr(ext.device, "vkWaitSemaphores"))
    throw UnsupportedError(
        "the host's VkDevice does not expose Vulkan 1.2 commands (vkGetDeviceProcAddr(\"vkWaitSemaphores\") is "
        "NULL): its VkInstance was created with VkApplicationInfo.apiVersion below VK_API_VERSION_1_2. Create the "
        "instance for 1.2 or later (Vulkan 1.1 with VK_KHR_timeline_semaphore is not supported)");
  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  f11.pNext = &f12;
  VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  f2.pNext = &f11;
  vkGetPhysicalDeviceFeatures2(ext.physical_device, &f2);
  auto claim = [&](bool claimed, VkBool32 supported, const char* feature) {
    if (claimed && !supported)
      throw UnsupportedError(std::string("the host claims it enabled ") + feature + ", but '" + props.deviceName +
                             "' does not support it");
  };
  claim(ext.timeline_semaphore_enabled, f12.timelineSemaphore, "timelineSemaphore");
  claim(ext.shader_float16_enabled, f12.shaderFloat16, "shaderFloat16");
  claim(ext.storage_16bit_enabled, f11.storageBuffer16BitAccess, "storageBuffer16BitAccess");
}

}  // namespace

const char* kernel_variant_name(KernelVariant v) {
  return v == KernelVariant::TexelFetch ? "texel-fetch" : "shared-tiles";
}

std::optional<KernelVariant> parse_kernel_variant(std::string_view name) {
  for (KernelVariant v : {KernelVariant::TexelFetch, KernelVariant::SharedTiles})
    if (name == kernel_variant_name(v)) return v;
  if (name == "cpu") return KernelVariant::TexelFetch;
  if (name == "gpu") return KernelVariant::SharedTiles;
  return std::nullopt;
}

VkBool32 VKAPI_CALL debug_messenger_callback(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                             VkDebugUtilsMessageTypeFlagsEXT,
                                             const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
  auto* ctx = static_cast<Context*>(user);
  std::string msg = std::string(severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error: " : "warning: ") +
                    (data && data->pMessage ? data->pMessage : "(no message)");
  std::lock_guard<std::mutex> lock(ctx->messages_mutex_);
  ctx->messages_.push_back(std::move(msg));
  return VK_FALSE;
}

void Context::install_messenger(Context& ctx) {
  auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
      vkGetInstanceProcAddr(ctx.instance_, "vkCreateDebugUtilsMessengerEXT"));
  if (!create) return;
  VkDebugUtilsMessengerCreateInfoEXT ci{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
  ci.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  ci.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                   VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
  ci.pfnUserCallback = debug_messenger_callback;
  ci.pUserData = &ctx;
  VK_CHECK(create(ctx.instance_, &ci, nullptr, &ctx.messenger_));
}

std::unique_ptr<Context> Context::create(const ContextOptions& options) {
  std::unique_ptr<Context> ctx(new Context());
  ctx->owns_instance_ = true;
  ctx->owns_device_ = true;
  bool validation = options.validation || (options.validation_from_env && env_flag("TESSERA_VALIDATION"));

  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "tessera";
  app.pEngineName = "tessera";
  app.apiVersion = VK_API_VERSION_1_2;
  std::vector<const char*> layers, extensions;
  if (validation) {
    if (!has_layer(kValidationLayer))
      throw UnsupportedError(
          "validation was requested (TESSERA_VALIDATION=1) but VK_LAYER_KHRONOS_validation is not installed "
          "(Debian: apt-get install vulkan-validationlayers)");
    layers.push_back(kValidationLayer);
  }
  bool debug_utils = validation && has_instance_extension(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  if (debug_utils) extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ici.pApplicationInfo = &app;
  ici.enabledLayerCount = static_cast<uint32_t>(layers.size());
  ici.ppEnabledLayerNames = layers.data();
  ici.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  ici.ppEnabledExtensionNames = extensions.data();
  VkResult r = vkCreateInstance(&ici, nullptr, &ctx->instance_);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
    throw UnsupportedError("no Vulkan 1.2 driver found (install a GPU driver, or mesa-vulkan-drivers for lavapipe)");
  VK_CHECK(r);
  if (debug_utils) install_messenger(*ctx);
  ctx->validation_enabled_ = validation;

  // --- choose the physical device ---
  uint32_t n = 0;
  VK_CHECK(vkEnumeratePhysicalDevices(ctx->instance_, &n, nullptr));
  std::vector<VkPhysicalDevice> devices(n);
  VK_CHECK(vkEnumeratePhysicalDevices(ctx->instance_, &n, devices.data()));
  std::vector<std::string> listing;
  std::vector<VkPhysicalDeviceProperties> props(n);
  for (uint32_t i = 0; i < n; ++i) {
    vkGetPhysicalDeviceProperties(devices[i], &props[i]);
    listing.push_back(std::to_string(i) + ": " + props[i].deviceName + " (" + type_name(props[i].deviceType) + ")");
  }
  auto list_all = [&] {
    std::string s;
    for (auto& l : listing) s += "\n  " + l;
    return s.empty() ? std::string("\n  (none)") : s;
  };
  auto usable = [&](uint32_t i) {
    return props[i].apiVersion >= VK_API_VERSION_1_2 && compute_family(devices[i]) >= 0;
  };
  std::string selector = options.device_selector;
  if (selector.empty())
    if (const char* e = std::getenv("TESSERA_DEVICE")) selector = e;
  int chosen = -1;
  if (!selector.empty()) {
    bool numeric = std::all_of(selector.begin(), selector.end(), [](unsigned char c) { return std::isdigit(c); });
    for (uint32_t i = 0; i < n && chosen < 0; ++i) {
      bool match = numeric ? std::to_string(i) == selector
                           : lower(props[i].deviceName).find(lower(selector)) != std::string::npos;
      if (match) chosen = static_cast<int>(i);
    }
    if (chosen < 0)
      throw Error("TESSERA_DEVICE/--device '" + selector + "' matches no Vulkan device; devices:" + list_all());
    if (!usable(chosen))
      throw UnsupportedError(std::string("device '") + props[chosen].deviceName +
                             "' lacks Vulkan 1.2 or a compute queue");
    ctx->info_.selection_reason = "selected by '" + selector + "'";
  } else {
    for (uint32_t i = 0; i < n; ++i) {
      if (!usable(i)) continue;
      if (chosen < 0 || type_rank(props[i].deviceType) > type_rank(props[chosen].deviceType)) chosen = static_cast<int>(i);
    }
    if (chosen < 0) throw UnsupportedError("no Vulkan 1.2 device with a compute queue; devices:" + list_all());
    ctx->info_.selection_reason = std::string("best device type (") + type_name(props[chosen].deviceType) + ") of " +
                                  std::to_string(n) + "; set TESSERA_DEVICE to choose another";
  }
  ctx->physical_device_ = devices[chosen];
  ctx->queue_family_ = static_cast<uint32_t>(compute_family(ctx->physical_device_));

  // --- optional features: enable what is present and not disabled ---
  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  f11.pNext = &f12;
  VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  f2.pNext = &f11;
  vkGetPhysicalDeviceFeatures2(ctx->physical_device_, &f2);
  VkPhysicalDeviceVulkan11Features e11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  VkPhysicalDeviceVulkan12Features e12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  e11.pNext = &e12;
  VkPhysicalDeviceFeatures2 e2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  e2.pNext = &e11;
  bool fp16 = !options.disable_float16 && f12.shaderFloat16;
  bool st16 = !options.disable_float16 && f11.storageBuffer16BitAccess;
  e12.shaderFloat16 = fp16;
  e11.storageBuffer16BitAccess = st16;
  e12.timelineSemaphore = f12.timelineSemaphore;
  e2.features.shaderInt64 = VK_FALSE;

  float priority = 1.0f;
  VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qci.queueFamilyIndex = ctx->queue_family_;
  qci.queueCount = 1;
  qci.pQueuePriorities = &priority;
  VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  dci.pNext = &e2;
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  VK_CHECK(vkCreateDevice(ctx->physical_device_, &dci, nullptr, &ctx->device_));
  vkGetDeviceQueue(ctx->device_, ctx->queue_family_, 0, &ctx->queue_);
  ctx->query_device_info(fp16, st16, f12.timelineSemaphore);
  ctx->start(options);
  return ctx;
}

std::unique_ptr<Context> Context::adopt(const ExternalDevice& ext, const ContextOptions& options) {
  if (!ext.instance || !ext.physical_device || !ext.device)
    throw Error("Context::adopt: the host must give a VkInstance, a VkPhysicalDevice and a VkDevice (one was null)");
  uint32_t n = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(ext.physical_device, &n, nullptr);
  std::vector<VkQueueFamilyProperties> fams(n);
  vkGetPhysicalDeviceQueueFamilyProperties(ext.physical_device, &n, fams.data());
  if (ext.queue_family >= n || !(fams[ext.queue_family].queueFlags & VK_QUEUE_COMPUTE_BIT))
    throw UnsupportedError("Context::adopt: queue family " + std::to_string(ext.queue_family) +
                           " does not exist or has no compute capability");
  if (ext.queue_index >= fams[ext.queue_family].queueCount)
    throw Error("Context::adopt: queue index " + std::to_string(ext.queue_index) + " out of range for family " +
                std::to_string(ext.queue_family));
  require_vulkan_1_2(ext);
  std::unique_ptr<Context> ctx(new Context());
  ctx->instance_ = ext.instance;
  ctx->physical_device_ = ext.physical_device;
  ctx->device_ = ext.device;
  ctx->queue_family_ = ext.queue_family;
  ctx->lock_queue_ = ext.lock_queue;
  ctx->unlock_queue_ = ext.unlock_queue;
  vkGetDeviceQueue(ctx->device_, ext.queue_family, ext.queue_index, &ctx->queue_);
  ctx->query_device_info(ext.shader_float16_enabled && !options.disable_float16,
                         ext.storage_16bit_enabled && !options.disable_float16, ext.timeline_semaphore_enabled);
  ctx->info_.selection_reason = "adopted from host";
  ctx->start(options);
  return ctx;
}

void Context::query_device_info(bool float16_enabled, bool storage16_enabled, bool timeline_enabled) {
  VkPhysicalDeviceSubgroupProperties sub{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceDriverProperties drv{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  sub.pNext = &drv;
  VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  p2.pNext = &sub;
  vkGetPhysicalDeviceProperties2(physical_device_, &p2);
  const auto& p = p2.properties;
  const auto& lim = p.limits;
  info_.name = p.deviceName;
  info_.type = p.deviceType;
  info_.vendor_id = p.vendorID;
  info_.api_version = p.apiVersion;
  info_.driver = std::string(drv.driverName) + " " + drv.driverInfo;
  info_.subgroup_size = sub.subgroupSize;
  bool compute = sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT;
  info_.subgroup_basic = compute && (sub.supportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT) &&
                         (sub.supportedOperations & VK_SUBGROUP_FEATURE_BALLOT_BIT);
  info_.subgroup_shuffle = compute && (sub.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
  info_.subgroup_arithmetic = compute && (sub.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
  info_.shader_float16 = float16_enabled;
  info_.storage_16bit = storage16_enabled;
  info_.timeline_semaphore = timeline_enabled;
  info_.max_workgroup_invocations = lim.maxComputeWorkGroupInvocations;
  for (int i = 0; i < 3; ++i) info_.max_workgroup_count[i] = lim.maxComputeWorkGroupCount[i];
  info_.max_shared_memory = lim.maxComputeSharedMemorySize;
  info_.max_storage_buffer_range = lim.maxStorageBufferRange;
  info_.max_texel_buffer_elements = lim.maxTexelBufferElements;
  info_.min_storage_buffer_offset_alignment = lim.minStorageBufferOffsetAlignment;
  info_.min_texel_buffer_offset_alignment = lim.minTexelBufferOffsetAlignment;
  VkPhysicalDeviceMaintenance3Properties m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
  VkPhysicalDeviceProperties2 pm{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  pm.pNext = &m3;
  vkGetPhysicalDeviceProperties2(physical_device_, &pm);
  info_.max_memory_allocation_size = m3.maxMemoryAllocationSize;

  uint32_t nf = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(physical_device_, &nf, nullptr);
  std::vector<VkQueueFamilyProperties> fams(nf);
  vkGetPhysicalDeviceQueueFamilyProperties(physical_device_, &nf, fams.data());
  info_.timestamp_valid_bits = fams[queue_family_].timestampValidBits;
  info_.timestamp_period_ns = info_.timestamp_valid_bits ? lim.timestampPeriod : 0.0f;

  VkPhysicalDeviceMemoryProperties mem;
  vkGetPhysicalDeviceMemoryProperties(physical_device_, &mem);
  for (uint32_t i = 0; i < mem.memoryHeapCount; ++i)
    if (mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) info_.device_local_bytes += mem.memoryHeaps[i].size;
  for (uint32_t i = 0; i < mem.memoryTypeCount; ++i) {
    auto f = mem.memoryTypes[i].propertyFlags;
    if ((f & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) && (f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) &&
        (f & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT))
      info_.device_local_host_visible = true;
  }
}

// What an owned and an adopted device share once the device is known: the options that
// narrow what it offers, the kernel variant, the command pool, the fence and the kernels.
void Context::start(const ContextOptions& options) {
  if (options.disable_subgroups) info_.subgroup_basic = info_.subgroup_shuffle = info_.subgroup_arithmetic = false;
  variant_ = options.force_variant                      ? options.variant
             : info_.type == VK_PHYSICAL_DEVICE_TYPE_CPU ? KernelVariant::TexelFetch
                                                        : KernelVariant::SharedTiles;
  portable_ = options.portable;
  VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pci.queueFamilyIndex = queue_family_;
  VK_CHECK(vkCreateCommandPool(device_, &pci, nullptr, &command_pool_));
  VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  VK_CHECK(vkCreateFence(device_, &fci, nullptr, &fence_));
  kernels_ = std::make_unique<KernelRegistry>(
      *this, options.pipeline_cache_dir.empty() ? default_cache_dir() : options.pipeline_cache_dir);
}

Context::~Context() {
  // A shared device may have other threads' queues busy: idle only our queue, under the host's lock.
  if (owns_device_ && device_) {
    vkDeviceWaitIdle(device_);
  } else if (queue_) {
    if (lock_queue_) lock_queue_();
    vkQueueWaitIdle(queue_);
    if (unlock_queue_) unlock_queue_();
  }
  kernels_.reset();
  if (fence_) vkDestroyFence(device_, fence_, nullptr);
  if (command_pool_) vkDestroyCommandPool(device_, command_pool_, nullptr);
  if (owns_device_ && device_) vkDestroyDevice(device_, nullptr);
  if (messenger_) {
    auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
    if (destroy) destroy(instance_, messenger_, nullptr);
  }
  if (owns_instance_ && instance_) vkDestroyInstance(instance_, nullptr);
}

uint32_t Context::find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags required,
                                   VkMemoryPropertyFlags preferred) const {
  VkPhysicalDeviceMemoryProperties mem;
  vkGetPhysicalDeviceMemoryProperties(physical_device_, &mem);
  int fallback = -1;
  for (uint32_t i = 0; i < mem.memoryTypeCount; ++i) {
    if (!(type_bits & (1u << i))) continue;
    auto f = mem.memoryTypes[i].propertyFlags;
    if ((f & required) != required) continue;
    if ((f & preferred) == preferred) return i;
    if (fallback < 0) fallback = static_cast<int>(i);
  }
  if (fallback < 0) throw UnsupportedError("no Vulkan memory type with the required properties on " + info_.name);
  return static_cast<uint32_t>(fallback);
}

void Context::submit(const VkSubmitInfo& submit, VkFence fence) {
  std::lock_guard<std::mutex> guard(submit_mutex_);
  queue_submit(submit, fence);
}

void Context::queue_submit(const VkSubmitInfo& submit, VkFence fence) {
  if (lock_queue_) lock_queue_();
  VkResult r = vkQueueSubmit(queue_, 1, &submit, fence);
  if (unlock_queue_) unlock_queue_();
  VK_CHECK(r);
}

void Context::submit_and_wait(VkCommandBuffer cmd) {
  std::lock_guard<std::mutex> guard(submit_mutex_);
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd;
  queue_submit(si, fence_);
  VK_CHECK(vkWaitForFences(device_, 1, &fence_, VK_TRUE, UINT64_MAX));
  VK_CHECK(vkResetFences(device_, 1, &fence_));
}

void Context::run_once(const std::function<void(VkCommandBuffer)>& record) {
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = command_pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkCommandBuffer cmd;
  VK_CHECK(vkAllocateCommandBuffers(device_, &ai, &cmd));
  struct Free {
    VkDevice d;
    VkCommandPool p;
    VkCommandBuffer c;
    ~Free() { vkFreeCommandBuffers(d, p, 1, &c); }
  } free_on_exit{device_, command_pool_, cmd};
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  VK_CHECK(vkBeginCommandBuffer(cmd, &bi));
  record(cmd);
  VK_CHECK(vkEndCommandBuffer(cmd));
  submit_and_wait(cmd);
}

std::vector<std::string> Context::validation_messages() const {
  std::lock_guard<std::mutex> lock(messages_mutex_);
  return messages_;
}

void Context::clear_validation_messages() {
  std::lock_guard<std::mutex> lock(messages_mutex_);
  messages_.clear();
}

std::string DeviceInfo::describe() const {
  std::ostringstream o;
  o << "device: " << name << " (" << type_name(type) << ", " << driver << ")\n"
    << "  chosen: " << selection_reason << "\n"
    << "  Vulkan " << VK_API_VERSION_MAJOR(api_version) << "." << VK_API_VERSION_MINOR(api_version) << "."
    << VK_API_VERSION_PATCH(api_version) << ", subgroup size " << subgroup_size << "\n"
    << "  features used: subgroups " << (subgroup_basic ? "yes" : "no") << ", shuffle "
    << (subgroup_shuffle ? "yes" : "no") << ", fp16 arithmetic " << (shader_float16 ? "yes" : "no")
    << ", 16-bit storage " << (storage_16bit ? "yes" : "no") << ", timeline semaphores "
    << (timeline_semaphore ? "yes" : "no") << "\n"
    << "  limits: workgroup " << max_workgroup_invocations << " invocations, shared memory " << max_shared_memory
    << " B, storage range " << max_storage_buffer_range << " B, texel elements " << max_texel_buffer_elements
    << ", max allocation " << max_memory_allocation_size << " B\n"
    << "  memory: " << (device_local_bytes >> 20) << " MiB device-local"
    << (device_local_host_visible ? " (host-visible)" : "") << ", timestamps "
    << (timestamp_valid_bits ? std::to_string(timestamp_period_ns) + " ns/tick" : std::string("unavailable"));
  return o.str();
}

}  // namespace tessera
