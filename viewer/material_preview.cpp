#include "material_preview.hpp"

#include <imgui.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace tessera::viewer {

namespace {

const uint32_t kVertexSpirv[] =
#include "material_lit.vert.inc"
    ;
const uint32_t kFragmentSpirv[] =
#include "material_lit.frag.inc"
    ;

// The scene, in the shaders' world (material_lit.vert): the quad spans [-1, 1]^2 at z = 0.
struct Scene {
  float light[4], eye[4], target[4];
};
constexpr float kEye[3] = {0.0f, -1.9f, 2.2f};
constexpr float kTarget[3] = {0.0f, -0.1f, 0.0f};
constexpr float kFocal = 2.1f;             // 1 / tan(25.5 deg): the quad fills most of the square
constexpr float kLightOrbitRadius = 1.1f;  // over the quad, so its highlight crosses the material
constexpr float kLightHeight = 0.9f;
constexpr float kLightIntensity = 6.0f;

Scene scene(float light_radians) {
  return {{kLightOrbitRadius * std::cos(light_radians), kLightOrbitRadius * std::sin(light_radians), kLightHeight,
           kLightIntensity},
          {kEye[0], kEye[1], kEye[2], kFocal},
          {kTarget[0], kTarget[1], kTarget[2], MaterialPreview::kRepeats}};
}

constexpr VkShaderStageFlags kPushStages = VK_SHADER_STAGE_VERTEX_BIT | VK_SHADER_STAGE_FRAGMENT_BIT;

}  // namespace

MaterialPreview::MaterialPreview(VulkanWindow& window) : window_(window) {
  VkDevice device = window.device();
  VkSamplerCreateInfo sci{VK_STRUCTURE_TYPE_SAMPLER_CREATE_INFO};
  sci.magFilter = sci.minFilter = VK_FILTER_LINEAR;  // a surface, not texels to inspect
  sci.mipmapMode = VK_SAMPLER_MIPMAP_MODE_NEAREST;
  sci.addressModeU = sci.addressModeV = sci.addressModeW = VK_SAMPLER_ADDRESS_MODE_REPEAT;
  sci.maxLod = 0.0f;
  check_vk(vkCreateSampler(device, &sci, nullptr, &sampler_), "vkCreateSampler");

  VkDescriptorSetLayoutBinding bindings[3] = {};
  for (uint32_t i = 0; i < 3; ++i) {
    bindings[i].binding = i;
    bindings[i].descriptorType = VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER;
    bindings[i].descriptorCount = 1;
    bindings[i].stageFlags = VK_SHADER_STAGE_FRAGMENT_BIT;
  }
  VkDescriptorSetLayoutCreateInfo lci{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  lci.bindingCount = 3;
  lci.pBindings = bindings;
  check_vk(vkCreateDescriptorSetLayout(device, &lci, nullptr, &set_layout_), "vkCreateDescriptorSetLayout");
  VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 3 * VulkanWindow::kFramesInFlight};
  VkDescriptorPoolCreateInfo pci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  pci.maxSets = VulkanWindow::kFramesInFlight;
  pci.poolSizeCount = 1;
  pci.pPoolSizes = &size;
  check_vk(vkCreateDescriptorPool(device, &pci, nullptr, &pool_), "vkCreateDescriptorPool");
  VkDescriptorSetLayout layouts[VulkanWindow::kFramesInFlight];
  for (auto& l : layouts) l = set_layout_;
  VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  ai.descriptorPool = pool_;
  ai.descriptorSetCount = VulkanWindow::kFramesInFlight;
  ai.pSetLayouts = layouts;
  check_vk(vkAllocateDescriptorSets(device, &ai, sets_), "vkAllocateDescriptorSets");

  layout_ = create_strip_pipeline_layout(device, set_layout_, {kPushStages, 0, sizeof(Scene)});
  pipeline_ = create_strip_pipeline(device, window.render_pass(), layout_, kVertexSpirv, kFragmentSpirv);
}

MaterialPreview::~MaterialPreview() {
  destroy_strip_drawer(window_.device(), pipeline_, layout_, pool_, set_layout_, sampler_);
}

void MaterialPreview::draw(const GpuTexture& albedo, const GpuTexture& normal, const GpuTexture& roughness,
                           const ImVec2& min, const ImVec2& max, float light_radians) {
  if (!albedo.drawable() || !normal.drawable() || !roughness.drawable()) return;
  item_ = DrawItem{{&albedo, &normal, &roughness}, {min.x, min.y}, {max.x, max.y}, light_radians};
  ImDrawList* list = ImGui::GetWindowDrawList();
  list->AddCallback(draw_callback, this);
  list->AddCallback(ImDrawCallback_ResetRenderState, nullptr);  // the backend rebinds its own state
}

void MaterialPreview::draw_callback(const ImDrawList*, const ImDrawCmd* cmd) {
  auto& self = *static_cast<MaterialPreview*>(cmd->UserCallbackData);
  if (!self.item_) return;
  const DrawItem& item = *self.item_;
  const CallbackArea area = callback_area(cmd);
  if (!area.visible) return;
  // This slot's previous frame has finished (draw_frame waited on its fence before recording),
  // so its set may be rewritten; the images are in SHADER_READ_ONLY after this frame's uploads.
  VkDescriptorSet set = self.sets_[self.window_.frame_slot() % VulkanWindow::kFramesInFlight];
  VkDescriptorImageInfo images[3];
  VkWriteDescriptorSet writes[3];
  for (uint32_t i = 0; i < 3; ++i) {
    images[i] = {self.sampler_, item.maps[i]->image_view(), VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL};
    writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    writes[i].dstSet = set;
    writes[i].dstBinding = i;
    writes[i].descriptorCount = 1;
    writes[i].descriptorType = VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER;
    writes[i].pImageInfo = &images[i];
  }
  vkUpdateDescriptorSets(self.window_.device(), 3, writes, 0, nullptr);

  const float x0 = area.to_framebuffer_x(item.min[0]), y0 = area.to_framebuffer_y(item.min[1]);
  const VkViewport viewport{x0, y0, area.to_framebuffer_x(item.max[0]) - x0, area.to_framebuffer_y(item.max[1]) - y0,
                            0,  1};
  const Scene push = scene(item.light_radians);
  VkCommandBuffer cb = self.cmd_;
  vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_GRAPHICS, self.pipeline_);
  vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_GRAPHICS, self.layout_, 0, 1, &set, 0, nullptr);
  vkCmdSetViewport(cb, 0, 1, &viewport);
  vkCmdSetScissor(cb, 0, 1, &area.scissor);
  vkCmdPushConstants(cb, self.layout_, kPushStages, 0, sizeof push, &push);
  vkCmdDraw(cb, 4, 1, 0, 0);
}

}  // namespace tessera::viewer
