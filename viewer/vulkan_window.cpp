#include "vulkan_window.hpp"

#define GLFW_INCLUDE_VULKAN
#include <GLFW/glfw3.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace tessera::viewer {

namespace {

std::string g_glfw_error;

bool has_layer(const char* name) {
  uint32_t n = 0;
  vkEnumerateInstanceLayerProperties(&n, nullptr);
  std::vector<VkLayerProperties> layers(n);
  vkEnumerateInstanceLayerProperties(&n, layers.data());
  for (const auto& l : layers)
    if (std::strcmp(l.layerName, name) == 0) return true;
  return false;
}

bool has_device_extension(VkPhysicalDevice pd, const char* name) {
  uint32_t n = 0;
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr);
  std::vector<VkExtensionProperties> exts(n);
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, exts.data());
  for (const auto& e : exts)
    if (std::strcmp(e.extensionName, name) == 0) return true;
  return false;
}

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";

}  // namespace

void check_vk(VkResult r, const char* what) {
  if (r != VK_SUCCESS) throw std::runtime_error(std::string(what) + " failed (VkResult " + std::to_string(r) + ")");
}

VKAPI_ATTR VkBool32 VKAPI_CALL VulkanWindow::on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                        VkDebugUtilsMessageTypeFlagsEXT,
                                                        const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
  auto* self = static_cast<VulkanWindow*>(user);
  std::string msg = std::string(severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error: " : "warning: ") +
                    (data && data->pMessage ? data->pMessage : "(no message)");
  std::fprintf(stderr, "vulkan validation: %s\n", msg.c_str());
  self->messages_.push_back(std::move(msg));
  return VK_FALSE;
}

VulkanWindow::VulkanWindow(const WindowOptions& options) {
  glfwSetErrorCallback([](int, const char* text) { g_glfw_error = text ? text : ""; });
  if (!glfwInit())
    throw std::runtime_error("cannot open a window: " + g_glfw_error +
                             " (no display? set DISPLAY, or run headless under xvfb-run)");
  if (!glfwVulkanSupported()) {
    glfwTerminate();
    throw std::runtime_error(
        "no Vulkan loader or driver usable for windows (install a GPU driver or mesa-vulkan-drivers)");
  }
  glfwWindowHint(GLFW_CLIENT_API, GLFW_NO_API);
  window_ = glfwCreateWindow(options.width, options.height, options.title.c_str(), nullptr, nullptr);
  if (!window_) {
    glfwTerminate();
    throw std::runtime_error("cannot create a " + std::to_string(options.width) + "x" + std::to_string(options.height) +
                             " window: " + g_glfw_error);
  }
  glfwSetWindowUserPointer(window_, this);
  glfwSetFramebufferSizeCallback(window_, [](GLFWwindow* w, int, int) {
    static_cast<VulkanWindow*>(glfwGetWindowUserPointer(w))->resized_ = true;
  });
  try {
    create_instance(options.validation);
    check_vk(glfwCreateWindowSurface(instance_, window_, nullptr, &surface_), "glfwCreateWindowSurface");
    pick_device();
    create_device();
    create_swapchain();
  } catch (...) {
    release();
    throw;
  }
}

VulkanWindow::~VulkanWindow() { release(); }

void VulkanWindow::release() {
  if (device_) {
    vkDeviceWaitIdle(device_);
    destroy_swapchain(false);
    for (Frame& f : frames_) {
      if (f.fence) vkDestroyFence(device_, f.fence, nullptr);
      if (f.image_acquired) vkDestroySemaphore(device_, f.image_acquired, nullptr);
      if (f.pool) vkDestroyCommandPool(device_, f.pool, nullptr);
      f = Frame{};
    }
    if (render_pass_) vkDestroyRenderPass(device_, render_pass_, nullptr);
    vkDestroyDevice(device_, nullptr);
    device_ = VK_NULL_HANDLE;
  }
  if (surface_) vkDestroySurfaceKHR(instance_, surface_, nullptr);
  surface_ = VK_NULL_HANDLE;
  if (messenger_) {
    auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
    if (destroy) destroy(instance_, messenger_, nullptr);
    messenger_ = VK_NULL_HANDLE;
  }
  if (instance_) vkDestroyInstance(instance_, nullptr);
  instance_ = VK_NULL_HANDLE;
  if (window_) glfwDestroyWindow(window_);
  window_ = nullptr;
  glfwTerminate();
}

void VulkanWindow::create_instance(bool validation) {
  uint32_t glfw_count = 0;
  const char** glfw_exts = glfwGetRequiredInstanceExtensions(&glfw_count);
  if (!glfw_exts) throw std::runtime_error("GLFW found no Vulkan surface extensions: " + g_glfw_error);
  std::vector<const char*> extensions(glfw_exts, glfw_exts + glfw_count);
  std::vector<const char*> layers;
  if (validation) {
    if (!has_layer(kValidationLayer))
      throw std::runtime_error(
          "validation was requested (TESSERA_VALIDATION=1) but VK_LAYER_KHRONOS_validation is not installed");
    layers.push_back(kValidationLayer);
    extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  }
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "tessera-viewer";
  app.pEngineName = "tessera";
  app.apiVersion = VK_API_VERSION_1_2;
  VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ici.pApplicationInfo = &app;
  ici.enabledLayerCount = static_cast<uint32_t>(layers.size());
  ici.ppEnabledLayerNames = layers.data();
  ici.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  ici.ppEnabledExtensionNames = extensions.data();
  VkResult r = vkCreateInstance(&ici, nullptr, &instance_);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER) throw std::runtime_error("no Vulkan 1.2 driver found");
  check_vk(r, "vkCreateInstance");
  if (validation) {
    auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
    VkDebugUtilsMessengerCreateInfoEXT ci{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    ci.messageSeverity =
        VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    ci.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    ci.pfnUserCallback = on_message;
    ci.pUserData = this;
    if (create) check_vk(create(instance_, &ci, nullptr, &messenger_), "vkCreateDebugUtilsMessengerEXT");
  }
}

// Best device type first (discrete, integrated, virtual, CPU) among those with Vulkan 1.2, the
// swapchain extension and one queue family that does graphics, compute and presents to our
// surface; TESSERA_DEVICE (index or name substring) overrides, as in Tessera's own context.
void VulkanWindow::pick_device() {
  uint32_t n = 0;
  check_vk(vkEnumeratePhysicalDevices(instance_, &n, nullptr), "vkEnumeratePhysicalDevices");
  std::vector<VkPhysicalDevice> devices(n);
  check_vk(vkEnumeratePhysicalDevices(instance_, &n, devices.data()), "vkEnumeratePhysicalDevices");
  const char* selector = std::getenv("TESSERA_DEVICE");
  auto rank = [](VkPhysicalDeviceType t) {
    switch (t) {
      case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
        return 0;
      case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
        return 1;
      case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
        return 2;
      case VK_PHYSICAL_DEVICE_TYPE_CPU:
        return 3;
      default:
        return 4;
    }
  };
  int best = -1, best_rank = 99;
  uint32_t best_family = 0;
  std::string listing;
  for (uint32_t i = 0; i < n; ++i) {
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(devices[i], &p);
    listing += std::string(listing.empty() ? "" : ", ") + std::to_string(i) + " " + p.deviceName;
    if (selector && *selector) {
      std::string name = p.deviceName, want = selector;
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      std::transform(want.begin(), want.end(), want.begin(), ::tolower);
      if (want != std::to_string(i) && name.find(want) == std::string::npos) continue;
    }
    if (p.apiVersion < VK_API_VERSION_1_2 || !has_device_extension(devices[i], VK_KHR_SWAPCHAIN_EXTENSION_NAME))
      continue;
    uint32_t fn = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(devices[i], &fn, nullptr);
    std::vector<VkQueueFamilyProperties> fams(fn);
    vkGetPhysicalDeviceQueueFamilyProperties(devices[i], &fn, fams.data());
    for (uint32_t f = 0; f < fn; ++f) {
      VkBool32 present = VK_FALSE;
      vkGetPhysicalDeviceSurfaceSupportKHR(devices[i], f, surface_, &present);
      const VkQueueFlags need = VK_QUEUE_GRAPHICS_BIT | VK_QUEUE_COMPUTE_BIT;
      if ((fams[f].queueFlags & need) != need || !present) continue;
      if (rank(p.deviceType) < best_rank) {
        best = static_cast<int>(i);
        best_rank = rank(p.deviceType);
        best_family = f;
      }
      break;
    }
  }
  if (best < 0)
    throw std::runtime_error(
        "no Vulkan 1.2 device can present to this window with a graphics+compute queue (devices: " +
        (listing.empty() ? std::string("none") : listing) + ")" +
        (selector ? std::string("; TESSERA_DEVICE=") + selector : std::string()));
  physical_device_ = devices[best];
  queue_family_ = best_family;
  VkPhysicalDeviceProperties p;
  vkGetPhysicalDeviceProperties(physical_device_, &p);
  device_name_ = p.deviceName;
  memory_budget_supported_ = has_device_extension(physical_device_, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
  std::fprintf(stderr, "tessera-viewer: device %d %s (%s; queue family %u)\n", best, p.deviceName,
               selector && *selector ? "chosen by TESSERA_DEVICE" : "best device type that can present", queue_family_);
}

void VulkanWindow::create_device() {
  // Enable the optional features Tessera uses when present and tell it so (tsr_vulkan_device.features).
  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  f11.pNext = &f12;
  VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  f2.pNext = &f11;
  vkGetPhysicalDeviceFeatures2(physical_device_, &f2);
  VkPhysicalDeviceVulkan11Features e11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  VkPhysicalDeviceVulkan12Features e12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  e11.pNext = &e12;
  VkPhysicalDeviceFeatures2 e2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  e2.pNext = &e11;
  e12.shaderFloat16 = f12.shaderFloat16;
  e11.storageBuffer16BitAccess = f11.storageBuffer16BitAccess;
  float16_enabled_ = e12.shaderFloat16 == VK_TRUE;
  storage16_enabled_ = e11.storageBuffer16BitAccess == VK_TRUE;

  std::vector<const char*> extensions = {VK_KHR_SWAPCHAIN_EXTENSION_NAME};
  if (memory_budget_supported_) extensions.push_back(VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
  float priority = 1.0f;
  VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qci.queueFamilyIndex = queue_family_;
  qci.queueCount = 1;
  qci.pQueuePriorities = &priority;
  VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  dci.pNext = &e2;
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  dci.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  dci.ppEnabledExtensionNames = extensions.data();
  check_vk(vkCreateDevice(physical_device_, &dci, nullptr, &device_), "vkCreateDevice");
  vkGetDeviceQueue(device_, queue_family_, 0, &queue_);

  for (Frame& f : frames_) {
    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pci.queueFamilyIndex = queue_family_;
    check_vk(vkCreateCommandPool(device_, &pci, nullptr, &f.pool), "vkCreateCommandPool");
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = f.pool;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    check_vk(vkAllocateCommandBuffers(device_, &ai, &f.cmd), "vkAllocateCommandBuffers");
    VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    fci.flags = VK_FENCE_CREATE_SIGNALED_BIT;
    check_vk(vkCreateFence(device_, &fci, nullptr, &f.fence), "vkCreateFence");
    VkSemaphoreCreateInfo sci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    check_vk(vkCreateSemaphore(device_, &sci, nullptr, &f.image_acquired), "vkCreateSemaphore");
  }

  // UNORM, not sRGB: ImGui's colours are authored for a UNORM target, and the screenshot then
  // holds exactly the bytes drawn.
  uint32_t fn = 0;
  vkGetPhysicalDeviceSurfaceFormatsKHR(physical_device_, surface_, &fn, nullptr);
  std::vector<VkSurfaceFormatKHR> formats(fn);
  vkGetPhysicalDeviceSurfaceFormatsKHR(physical_device_, surface_, &fn, formats.data());
  if (formats.empty()) throw std::runtime_error("the window surface offers no formats");
  format_ = VK_FORMAT_UNDEFINED;
  for (VkFormat want : {VK_FORMAT_B8G8R8A8_UNORM, VK_FORMAT_R8G8B8A8_UNORM})
    for (const auto& f : formats)
      if (format_ == VK_FORMAT_UNDEFINED && f.format == want && f.colorSpace == VK_COLOR_SPACE_SRGB_NONLINEAR_KHR)
        format_ = want;
  if (format_ == VK_FORMAT_UNDEFINED)
    throw std::runtime_error("the window surface offers neither B8G8R8A8_UNORM nor R8G8B8A8_UNORM");

  VkAttachmentDescription color{};
  color.format = format_;
  color.samples = VK_SAMPLE_COUNT_1_BIT;
  color.loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR;
  color.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
  color.stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
  color.stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
  color.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
  color.finalLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
  VkAttachmentReference ref{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
  VkSubpassDescription subpass{};
  subpass.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
  subpass.colorAttachmentCount = 1;
  subpass.pColorAttachments = &ref;
  // The acquire semaphore is waited at COLOR_ATTACHMENT_OUTPUT: the layout transition must
  // wait there too.
  VkSubpassDependency dep{};
  dep.srcSubpass = VK_SUBPASS_EXTERNAL;
  dep.dstSubpass = 0;
  dep.srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  dep.dstStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  dep.dstAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
  VkRenderPassCreateInfo rci{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO};
  rci.attachmentCount = 1;
  rci.pAttachments = &color;
  rci.subpassCount = 1;
  rci.pSubpasses = &subpass;
  rci.dependencyCount = 1;
  rci.pDependencies = &dep;
  check_vk(vkCreateRenderPass(device_, &rci, nullptr, &render_pass_), "vkCreateRenderPass");
}

void VulkanWindow::create_swapchain() {
  VkSurfaceCapabilitiesKHR caps;
  check_vk(vkGetPhysicalDeviceSurfaceCapabilitiesKHR(physical_device_, surface_, &caps),
        "vkGetPhysicalDeviceSurfaceCapabilitiesKHR");
  if (caps.currentExtent.width != UINT32_MAX) {
    extent_ = caps.currentExtent;
  } else {
    int w = 0, h = 0;
    glfwGetFramebufferSize(window_, &w, &h);
    extent_.width = std::clamp(static_cast<uint32_t>(w), caps.minImageExtent.width, caps.maxImageExtent.width);
    extent_.height = std::clamp(static_cast<uint32_t>(h), caps.minImageExtent.height, caps.maxImageExtent.height);
  }
  if (extent_.width == 0 || extent_.height == 0) return;  // minimised: nothing to draw into
  min_image_count_ = std::max(2u, caps.minImageCount);
  uint32_t count = caps.minImageCount + 1;
  if (caps.maxImageCount) count = std::min(count, caps.maxImageCount);
  if (!(caps.supportedUsageFlags & VK_IMAGE_USAGE_TRANSFER_SRC_BIT))
    throw std::runtime_error("the window surface cannot be read back (no TRANSFER_SRC usage)");
  VkSwapchainCreateInfoKHR sci{VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR};
  sci.surface = surface_;
  sci.minImageCount = count;
  sci.imageFormat = format_;
  sci.imageColorSpace = VK_COLOR_SPACE_SRGB_NONLINEAR_KHR;
  sci.imageExtent = extent_;
  sci.imageArrayLayers = 1;
  sci.imageUsage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
  sci.imageSharingMode = VK_SHARING_MODE_EXCLUSIVE;
  sci.preTransform = caps.currentTransform;
  sci.compositeAlpha = VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR;
  sci.presentMode = VK_PRESENT_MODE_FIFO_KHR;  // always available
  sci.clipped = VK_TRUE;
  sci.oldSwapchain = swapchain_;
  VkSwapchainKHR created = VK_NULL_HANDLE;
  check_vk(vkCreateSwapchainKHR(device_, &sci, nullptr, &created), "vkCreateSwapchainKHR");
  if (swapchain_) vkDestroySwapchainKHR(device_, swapchain_, nullptr);
  swapchain_ = created;

  uint32_t n = 0;
  vkGetSwapchainImagesKHR(device_, swapchain_, &n, nullptr);
  images_.resize(n);
  vkGetSwapchainImagesKHR(device_, swapchain_, &n, images_.data());
  for (VkImage image : images_) {
    VkImageViewCreateInfo vci{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
    vci.image = image;
    vci.viewType = VK_IMAGE_VIEW_TYPE_2D;
    vci.format = format_;
    vci.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    VkImageView view;
    check_vk(vkCreateImageView(device_, &vci, nullptr, &view), "vkCreateImageView");
    views_.push_back(view);
    VkFramebufferCreateInfo fci{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO};
    fci.renderPass = render_pass_;
    fci.attachmentCount = 1;
    fci.pAttachments = &view;
    fci.width = extent_.width;
    fci.height = extent_.height;
    fci.layers = 1;
    VkFramebuffer fb;
    check_vk(vkCreateFramebuffer(device_, &fci, nullptr, &fb), "vkCreateFramebuffer");
    framebuffers_.push_back(fb);
    VkSemaphoreCreateInfo semci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    VkSemaphore done;
    check_vk(vkCreateSemaphore(device_, &semci, nullptr, &done), "vkCreateSemaphore");
    render_done_.push_back(done);
  }
}

void VulkanWindow::destroy_swapchain(bool keep_handle) {
  for (VkFramebuffer fb : framebuffers_) vkDestroyFramebuffer(device_, fb, nullptr);
  for (VkImageView v : views_) vkDestroyImageView(device_, v, nullptr);
  for (VkSemaphore s : render_done_) vkDestroySemaphore(device_, s, nullptr);
  framebuffers_.clear();
  views_.clear();
  render_done_.clear();
  images_.clear();
  if (!keep_handle && swapchain_) {
    vkDestroySwapchainKHR(device_, swapchain_, nullptr);
    swapchain_ = VK_NULL_HANDLE;
  }
}

void VulkanWindow::recreate_swapchain() {
  vkDeviceWaitIdle(device_);
  destroy_swapchain(true);  // the old handle is passed as oldSwapchain, then destroyed
  create_swapchain();
  resized_ = false;
}

void VulkanWindow::memory_budget(uint64_t& usage, uint64_t& budget) const {
  usage = budget = 0;
  if (!memory_budget_supported_) return;
  VkPhysicalDeviceMemoryBudgetPropertiesEXT mb{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
  VkPhysicalDeviceMemoryProperties2 mp{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2};
  mp.pNext = &mb;
  vkGetPhysicalDeviceMemoryProperties2(physical_device_, &mp);
  for (uint32_t i = 0; i < mp.memoryProperties.memoryHeapCount; ++i)
    if (mp.memoryProperties.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) {
      usage += mb.heapUsage[i];
      budget += mb.heapBudget[i];
    }
}

bool VulkanWindow::should_close() const { return glfwWindowShouldClose(window_); }

void VulkanWindow::set_size(int width, int height) {
  glfwSetWindowSize(window_, width, height);
  resized_ = true;
}

void VulkanWindow::wait_idle() const { vkDeviceWaitIdle(device_); }

uint32_t VulkanWindow::find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags required) const {
  VkPhysicalDeviceMemoryProperties mp;
  vkGetPhysicalDeviceMemoryProperties(physical_device_, &mp);
  for (uint32_t i = 0; i < mp.memoryTypeCount; ++i)
    if ((type_bits & (1u << i)) && (mp.memoryTypes[i].propertyFlags & required) == required) return i;
  throw std::runtime_error("no Vulkan memory type with the required properties");
}

VulkanWindow::HostBuffer VulkanWindow::create_host_buffer(VkDeviceSize bytes, VkBufferUsageFlags usage) const {
  HostBuffer b;
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = bytes;
  bci.usage = usage;
  check_vk(vkCreateBuffer(device_, &bci, nullptr, &b.buffer), "vkCreateBuffer");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(device_, b.buffer, &req);
  VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  mai.allocationSize = req.size;
  mai.memoryTypeIndex =
      find_memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
  VkResult r = vkAllocateMemory(device_, &mai, nullptr, &b.memory);
  if (r == VK_SUCCESS) r = vkBindBufferMemory(device_, b.buffer, b.memory, 0);
  if (r == VK_SUCCESS) r = vkMapMemory(device_, b.memory, 0, VK_WHOLE_SIZE, 0, &b.mapped);
  if (r != VK_SUCCESS) {
    destroy_host_buffer(b);
    check_vk(r, "allocating a host-visible buffer");
  }
  b.size = bytes;
  return b;
}

void VulkanWindow::destroy_host_buffer(HostBuffer& b) const {
  if (b.buffer) vkDestroyBuffer(device_, b.buffer, nullptr);
  if (b.memory) vkFreeMemory(device_, b.memory, nullptr);  // unmaps implicitly
  b = HostBuffer{};
}

void VulkanWindow::run_once(const std::function<void(VkCommandBuffer)>& record) {
  Frame& f = frames_[frame_index_];
  check_vk(vkWaitForFences(device_, 1, &f.fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
  vkResetCommandPool(device_, f.pool, 0);
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  check_vk(vkBeginCommandBuffer(f.cmd, &bi), "vkBeginCommandBuffer");
  record(f.cmd);
  check_vk(vkEndCommandBuffer(f.cmd), "vkEndCommandBuffer");
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &f.cmd;
  check_vk(vkQueueSubmit(queue_, 1, &si, VK_NULL_HANDLE), "vkQueueSubmit");
  check_vk(vkQueueWaitIdle(queue_), "vkQueueWaitIdle");
}

bool VulkanWindow::draw_frame(const std::function<void(VkCommandBuffer)>& before_pass,
                              const std::function<void(VkCommandBuffer)>& in_pass, const CaptureFn& capture) {
  int fb_w = 0, fb_h = 0;
  glfwGetFramebufferSize(window_, &fb_w, &fb_h);
  if (fb_w == 0 || fb_h == 0) return false;
  if (resized_ || swapchain_ == VK_NULL_HANDLE || uint32_t(fb_w) != extent_.width || uint32_t(fb_h) != extent_.height)
    recreate_swapchain();
  if (images_.empty()) return false;

  Frame& f = frames_[frame_index_];
  check_vk(vkWaitForFences(device_, 1, &f.fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
  uint32_t image = 0;
  VkResult r = vkAcquireNextImageKHR(device_, swapchain_, UINT64_MAX, f.image_acquired, VK_NULL_HANDLE, &image);
  if (r == VK_ERROR_OUT_OF_DATE_KHR) {
    recreate_swapchain();
    return false;
  }
  if (r != VK_SUBOPTIMAL_KHR) check_vk(r, "vkAcquireNextImageKHR");
  check_vk(vkResetFences(device_, 1, &f.fence), "vkResetFences");
  vkResetCommandPool(device_, f.pool, 0);

  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  check_vk(vkBeginCommandBuffer(f.cmd, &bi), "vkBeginCommandBuffer");
  if (before_pass) before_pass(f.cmd);
  VkClearValue clear{};
  clear.color = {{0.09f, 0.09f, 0.10f, 1.0f}};
  VkRenderPassBeginInfo rbi{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
  rbi.renderPass = render_pass_;
  rbi.framebuffer = framebuffers_[image];
  rbi.renderArea.extent = extent_;
  rbi.clearValueCount = 1;
  rbi.pClearValues = &clear;
  vkCmdBeginRenderPass(f.cmd, &rbi, VK_SUBPASS_CONTENTS_INLINE);
  in_pass(f.cmd);
  vkCmdEndRenderPass(f.cmd);

  // Screenshot: copy the finished image into a host-visible buffer before presenting it.
  HostBuffer readback;
  const VkDeviceSize bytes = VkDeviceSize(extent_.width) * extent_.height * 4;
  if (capture) {
    readback = create_host_buffer(bytes, VK_BUFFER_USAGE_TRANSFER_DST_BIT);
    VkImageMemoryBarrier to_src{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
    to_src.srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
    to_src.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    to_src.oldLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    to_src.newLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
    to_src.srcQueueFamilyIndex = to_src.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    to_src.image = images_[image];
    to_src.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    vkCmdPipelineBarrier(f.cmd, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0,
                         nullptr, 0, nullptr, 1, &to_src);
    VkBufferImageCopy region{};
    region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    region.imageExtent = {extent_.width, extent_.height, 1};
    vkCmdCopyImageToBuffer(f.cmd, images_[image], VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, readback.buffer, 1, &region);
    VkImageMemoryBarrier to_present = to_src;
    to_present.srcAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    to_present.dstAccessMask = 0;
    to_present.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
    to_present.newLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    VkBufferMemoryBarrier to_host{VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER};
    to_host.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    to_host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    to_host.srcQueueFamilyIndex = to_host.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    to_host.buffer = readback.buffer;
    to_host.size = VK_WHOLE_SIZE;
    vkCmdPipelineBarrier(f.cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT | VK_PIPELINE_STAGE_HOST_BIT, 0, 0, nullptr, 1, &to_host,
                         1, &to_present);
  }
  check_vk(vkEndCommandBuffer(f.cmd), "vkEndCommandBuffer");

  VkPipelineStageFlags wait_stage = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.waitSemaphoreCount = 1;
  si.pWaitSemaphores = &f.image_acquired;
  si.pWaitDstStageMask = &wait_stage;
  si.commandBufferCount = 1;
  si.pCommandBuffers = &f.cmd;
  si.signalSemaphoreCount = 1;
  si.pSignalSemaphores = &render_done_[image];
  check_vk(vkQueueSubmit(queue_, 1, &si, f.fence), "vkQueueSubmit");

  if (capture) {
    check_vk(vkWaitForFences(device_, 1, &f.fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
    const auto* mapped = static_cast<const uint8_t*>(readback.mapped);
    std::vector<uint8_t> rgba(mapped, mapped + bytes);
    destroy_host_buffer(readback);
    const bool bgra = format_ == VK_FORMAT_B8G8R8A8_UNORM;
    for (size_t i = 0; i < rgba.size(); i += 4) {
      if (bgra) std::swap(rgba[i], rgba[i + 2]);
      rgba[i + 3] = 255;  // the window is opaque whatever alpha was drawn
    }
    capture(rgba, extent_.width, extent_.height);
  }

  VkPresentInfoKHR pi{VK_STRUCTURE_TYPE_PRESENT_INFO_KHR};
  pi.waitSemaphoreCount = 1;
  pi.pWaitSemaphores = &render_done_[image];
  pi.swapchainCount = 1;
  pi.pSwapchains = &swapchain_;
  pi.pImageIndices = &image;
  r = vkQueuePresentKHR(queue_, &pi);
  if (r == VK_ERROR_OUT_OF_DATE_KHR || r == VK_SUBOPTIMAL_KHR)
    resized_ = true;
  else
    check_vk(r, "vkQueuePresentKHR");
  frame_index_ = (frame_index_ + 1) % kFramesInFlight;
  return true;
}

}  // namespace tessera::viewer
