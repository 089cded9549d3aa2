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
#include <span>
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
  VkImageView image_view() const { return view_; }  // changes when the size does
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

// A pipeline that draws a 4-vertex triangle strip without vertex input into the window's render
// pass (no depth, no blending; viewport and scissor dynamic): the texture quad and the lit
// material preview. The shader modules live only as long as the call.
VkPipeline create_strip_pipeline(VkDevice device, VkRenderPass render_pass, VkPipelineLayout layout,
                                 std::span<const uint32_t> vertex_spirv, std::span<const uint32_t> fragment_spirv);

// The layout of such a pipeline: one descriptor set layout and one push-constant range.
VkPipelineLayout create_strip_pipeline_layout(VkDevice device, VkDescriptorSetLayout set_layout,
                                              VkPushConstantRange push);

// Waits for the device, then destroys what a strip-pipeline drawer owns (the pool frees its sets).
void destroy_strip_drawer(VkDevice device, VkPipeline pipeline, VkPipelineLayout layout, VkDescriptorPool pool,
                          VkDescriptorSetLayout set_layout, VkSampler sampler);

// Where an ImDrawList callback draws: the framebuffer size, and the command's clip rectangle in
// framebuffer pixels as the ImGui backend computes it for its own draws (empty: draw nothing).
struct CallbackArea {
  float framebuffer[2] = {0, 0};
  VkRect2D scissor{};
  bool visible = false;
  float display_pos[2] = {0, 0}, scale[2] = {1, 1};
  // A point in ImGui screen coordinates, in framebuffer pixels.
  float to_framebuffer_x(float x) const { return (x - display_pos[0]) * scale[0]; }
  float to_framebuffer_y(float y) const { return (y - display_pos[1]) * scale[1]; }
};
CallbackArea callback_area(const ImDrawCmd* cmd);

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
