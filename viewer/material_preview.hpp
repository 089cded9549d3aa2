// The lit material preview (SPEC §12): the material tiled kRepeats x kRepeats on a ground quad
// seen in perspective, normal-mapped, under a point light orbiting above it, roughness shaping
// the GGX highlight (shaders/material_lit.*). What an artist looks at to judge a material.
// Drawn like TextureRenderer's quads: an ImDrawList callback with its own small pipeline, so
// ImGui orders and clips it like its widgets. It samples three GpuTextures (albedo, normal,
// roughness) with linear filtering and repeat addressing; their descriptors are written at
// record time into the frame slot's own set, since a texture's image view changes when its
// size does.
#pragma once
#include <vulkan/vulkan.h>

#include <optional>

#include "texture_renderer.hpp"
#include "vulkan_window.hpp"

namespace tessera::viewer {

class MaterialPreview {
 public:
  static constexpr float kRepeats = 3.0f;
  static constexpr float kOrbitRadiansPerSecond = 0.8f;

  explicit MaterialPreview(VulkanWindow& window);
  ~MaterialPreview();
  MaterialPreview(const MaterialPreview&) = delete;
  MaterialPreview& operator=(const MaterialPreview&) = delete;

  // Adds the preview over the square [min, max] (screen pixels) of the current ImGui window's
  // draw list, the light at `light_radians` of its orbit. One preview per frame: a second call
  // in the same frame replaces the first.
  void draw(const GpuTexture& albedo, const GpuTexture& normal, const GpuTexture& roughness, const ImVec2& min,
            const ImVec2& max, float light_radians);
  // As TextureRenderer's: around ImGui_ImplVulkan_RenderDrawData.
  void begin_render(VkCommandBuffer cmd) { cmd_ = cmd; }
  void end_frame() { item_.reset(); }

 private:
  struct DrawItem {
    const GpuTexture* maps[3];  // albedo, normal, roughness: the shader's bindings 0, 1, 2
    float min[2], max[2];
    float light_radians;
  };
  static void draw_callback(const ImDrawList* list, const ImDrawCmd* cmd);

  VulkanWindow& window_;
  VkSampler sampler_ = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkDescriptorPool pool_ = VK_NULL_HANDLE;
  VkDescriptorSet sets_[VulkanWindow::kFramesInFlight] = {};
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  VkPipeline pipeline_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  std::optional<DrawItem> item_;  // the callback's user data is `this`
};

}  // namespace tessera::viewer
