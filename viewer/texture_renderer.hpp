// Shows generated textures inside the ImGui panel. Dear ImGui 1.86's Vulkan backend binds only
// its font texture (no user textures, no ImGui_ImplVulkan_AddTexture), so textures are drawn by
// our own small pipeline from an ImDrawList callback: ImGui decides where and in which order
// (clipping, overlapping windows), the callback draws a textured rectangle with any UV range -
// a repeat sampler turns UVs beyond [0, 1] into 3x3 tiling, zoom and pan.
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "vulkan_window.hpp"

struct ImVec2;
struct ImDrawList;
struct ImDrawCmd;

namespace tessera::viewer {

// One sampled RGBA8 image, refreshed from host pixels through a staging buffer per frame slot.
class GpuTexture {
 public:
  GpuTexture(VulkanWindow& window, VkDescriptorPool pool, VkDescriptorSet set, VkSampler sampler);
  ~GpuTexture();
  GpuTexture(const GpuTexture&) = delete;
  GpuTexture& operator=(const GpuTexture&) = delete;

  // Copies the pixels now; the upload is recorded by record_upload() of the next frame.
  void set_pixels(const std::vector<uint8_t>& rgba, int width, int height);
  void record_upload(VkCommandBuffer cmd);
  // An image exists and holds (or will hold, after this frame's uploads) pixels.
  bool drawable() const { return image_ != VK_NULL_HANDLE && (uploaded_ || dirty_); }
  int width() const { return width_; }
  int height() const { return height_; }
  VkDescriptorSet descriptor_set() const { return set_; }
  const std::vector<uint8_t>& pixels() const { return pixels_; }

 private:
  void create_image(int width, int height);
  void destroy_image();

  VulkanWindow& window_;
  VkDescriptorPool pool_;
  VkDescriptorSet set_;
  VkSampler sampler_;
  VkImage image_ = VK_NULL_HANDLE;
  VkDeviceMemory image_memory_ = VK_NULL_HANDLE;
  VkImageView view_ = VK_NULL_HANDLE;
  // One staging buffer per frame slot: the previous frame's copy may still read its own.
  std::vector<VulkanWindow::HostBuffer> staging_;
  std::vector<uint8_t> pixels_;
  int width_ = 0, height_ = 0;
  bool dirty_ = false, uploaded_ = false;
};

class TextureRenderer {
 public:
  explicit TextureRenderer(VulkanWindow& window);
  ~TextureRenderer();
  TextureRenderer(const TextureRenderer&) = delete;
  TextureRenderer& operator=(const TextureRenderer&) = delete;

  std::unique_ptr<GpuTexture> create_texture();
  // Adds the texture to the current ImGui window's draw list over [min, max] (screen pixels)
  // with texture coordinates uv0..uv1.
  void draw(const GpuTexture& texture, const ImVec2& min, const ImVec2& max, const ImVec2& uv0, const ImVec2& uv1);
  // Call before ImGui_ImplVulkan_RenderDrawData with the frame's command buffer, and
  // end_frame() after it (the draw records live until then).
  void begin_render(VkCommandBuffer cmd) { cmd_ = cmd; }
  void end_frame() { items_.clear(); }

 private:
  struct DrawItem {
    TextureRenderer* renderer;
    VkDescriptorSet set;
    float min[2], max[2], uv0[2], uv1[2];
  };
  static void draw_callback(const ImDrawList* list, const ImDrawCmd* cmd);

  VulkanWindow& window_;
  VkSampler sampler_ = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkDescriptorPool pool_ = VK_NULL_HANDLE;
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  VkPipeline pipeline_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  std::deque<DrawItem> items_;  // stable addresses for the callbacks' user data
};

}  // namespace tessera::viewer
