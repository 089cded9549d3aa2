// VulkanWindow: the viewer's own GLFW window, Vulkan instance, device and swapchain - what a
// game engine would have before it hands its device to Tessera. One graphics+compute queue,
// one render pass clearing and drawing straight into the swapchain image, two frames in
// flight, resize by recreating the swapchain, and an optional copy of the rendered image back
// to the host for screenshots.
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

struct GLFWwindow;

namespace tessera::viewer {

// Throws std::runtime_error "<what> failed (VkResult N)" unless r is VK_SUCCESS: the viewer's
// Vulkan calls all report this way.
void check_vk(VkResult r, const char* what);

struct WindowOptions {
  int width = 1280, height = 800;
  std::string title = "tessera-viewer";
  bool validation = false;  // VK_LAYER_KHRONOS_validation + a messenger collecting messages
};

class VulkanWindow {
 public:
  // Throws std::runtime_error with a readable reason (no display, no Vulkan device, ...).
  explicit VulkanWindow(const WindowOptions& options);
  ~VulkanWindow();
  VulkanWindow(const VulkanWindow&) = delete;
  VulkanWindow& operator=(const VulkanWindow&) = delete;

  GLFWwindow* glfw() const { return window_; }
  VkInstance instance() const { return instance_; }
  VkPhysicalDevice physical_device() const { return physical_device_; }
  VkDevice device() const { return device_; }
  VkQueue queue() const { return queue_; }
  uint32_t queue_family() const { return queue_family_; }
  VkRenderPass render_pass() const { return render_pass_; }
  uint32_t image_count() const { return static_cast<uint32_t>(images_.size()); }
  uint32_t min_image_count() const { return min_image_count_; }
  VkExtent2D extent() const { return extent_; }
  bool shader_float16_enabled() const { return float16_enabled_; }
  bool storage_16bit_enabled() const { return storage16_enabled_; }
  const std::string& device_name() const { return device_name_; }
  // Device-local heap usage and budget (VK_EXT_memory_budget), 0 where unavailable.
  void memory_budget(uint64_t& usage, uint64_t& budget) const;

  bool should_close() const;
  void set_size(int width, int height);
  // Runs `before_pass` (uploads) and then `in_pass` inside the render pass of the next
  // swapchain image, and presents it. When
  // `capture` is given, the rendered image is copied back and handed to it as RGBA8.
  // Returns false when no image could be drawn (window minimised); the swapchain is rebuilt
  // on resize.
  using CaptureFn = std::function<void(const std::vector<uint8_t>& rgba, uint32_t width, uint32_t height)>;
  bool draw_frame(const std::function<void(VkCommandBuffer)>& before_pass,
                  const std::function<void(VkCommandBuffer)>& in_pass, const CaptureFn& capture = {});
  // The frame-in-flight slot the next draw_frame records into; resources written by the host
  // for a frame (staging buffers) are kept per slot.
  static constexpr int kFramesInFlight = 2;
  int frame_slot() const { return frame_index_; }
  void wait_idle() const;

  // Runs a one-shot command buffer on the queue and waits (uploads at start-up).
  void run_once(const std::function<void(VkCommandBuffer)>& record);
  uint32_t find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags required) const;

  // A host-visible, coherent, persistently mapped buffer (staging uploads, screenshot readback).
  struct HostBuffer {
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    void* mapped = nullptr;
    VkDeviceSize size = 0;
  };
  HostBuffer create_host_buffer(VkDeviceSize bytes, VkBufferUsageFlags usage) const;
  void destroy_host_buffer(HostBuffer& b) const;

  // Validation messages collected on this instance (warnings and errors).
  const std::vector<std::string>& validation_messages() const { return messages_; }

 private:
  void release();
  void create_instance(bool validation);
  void pick_device();
  void create_device();
  void create_swapchain();
  void destroy_swapchain(bool keep_handle);
  void recreate_swapchain();

  static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                                   VkDebugUtilsMessageTypeFlagsEXT,
                                                   const VkDebugUtilsMessengerCallbackDataEXT*, void*);

  GLFWwindow* window_ = nullptr;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkSurfaceKHR surface_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_device_ = VK_NULL_HANDLE;
  std::string device_name_;
  bool memory_budget_supported_ = false;
  bool float16_enabled_ = false, storage16_enabled_ = false;
  VkDevice device_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  VkQueue queue_ = VK_NULL_HANDLE;
  VkRenderPass render_pass_ = VK_NULL_HANDLE;
  VkFormat format_ = VK_FORMAT_UNDEFINED;

  VkSwapchainKHR swapchain_ = VK_NULL_HANDLE;
  VkExtent2D extent_{};
  uint32_t min_image_count_ = 2;
  std::vector<VkImage> images_;
  std::vector<VkImageView> views_;
  std::vector<VkFramebuffer> framebuffers_;
  std::vector<VkSemaphore> render_done_;  // per swapchain image: presentation waits on it

  struct Frame {
    VkCommandPool pool = VK_NULL_HANDLE;
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    VkFence fence = VK_NULL_HANDLE;
    VkSemaphore image_acquired = VK_NULL_HANDLE;
  };
  Frame frames_[kFramesInFlight];
  int frame_index_ = 0;
  bool resized_ = false;

  std::vector<std::string> messages_;
};

}  // namespace tessera::viewer
