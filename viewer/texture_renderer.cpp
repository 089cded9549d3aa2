#include "texture_renderer.hpp"

#include <imgui.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "vulkan_window.hpp"

namespace tessera::viewer {

namespace {

const uint32_t kVertexSpirv[] =
#include "texture_quad.vert.inc"
    ;
const uint32_t kFragmentSpirv[] =
#include "texture_quad.frag.inc"
    ;

constexpr uint32_t kMaxTextures = 64;

}  // namespace

// ---------------------------------------------------------------------------------------------
GpuTexture::GpuTexture(VulkanWindow& window, VkDescriptorPool pool, VkDescriptorSet set, VkSampler sampler)
    : window_(window), pool_(pool), set_(set), sampler_(sampler), staging_(VulkanWindow::kFramesInFlight) {}

GpuTexture::~GpuTexture() {
  VkDevice device = window_.device();
  vkDeviceWaitIdle(device);  // frames in flight may still sample the image
  destroy_image();
  for (auto& s : staging_) window_.destroy_host_buffer(s);
  vkFreeDescriptorSets(device, pool_, 1, &set_);
}

void GpuTexture::destroy_image() {
  VkDevice device = window_.device();
  if (view_) vkDestroyImageView(device, view_, nullptr);
  if (image_) vkDestroyImage(device, image_, nullptr);
  if (image_memory_) vkFreeMemory(device, image_memory_, nullptr);
  view_ = VK_NULL_HANDLE;
  image_ = VK_NULL_HANDLE;
  image_memory_ = VK_NULL_HANDLE;
  uploaded_ = false;
}

void GpuTexture::create_image(int width, int height) {
  VkDevice device = window_.device();
  vkDeviceWaitIdle(device);  // the old image and its descriptor may be in use by frames in flight
  destroy_image();
  VkImageCreateInfo ici{VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO};
  ici.imageType = VK_IMAGE_TYPE_2D;
  ici.format = VK_FORMAT_R8G8B8A8_UNORM;
  ici.extent = {uint32_t(width), uint32_t(height), 1};
  ici.mipLevels = 1;
  ici.arrayLayers = 1;
  ici.samples = VK_SAMPLE_COUNT_1_BIT;
  ici.tiling = VK_IMAGE_TILING_OPTIMAL;
  ici.usage = VK_IMAGE_USAGE_SAMPLED_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT;
  ici.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
  check_vk(vkCreateImage(device, &ici, nullptr, &image_), "vkCreateImage");
  VkMemoryRequirements req;
  vkGetImageMemoryRequirements(device, image_, &req);
  VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  mai.allocationSize = req.size;
  mai.memoryTypeIndex = window_.find_memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  check_vk(vkAllocateMemory(device, &mai, nullptr, &image_memory_), "vkAllocateMemory");
  check_vk(vkBindImageMemory(device, image_, image_memory_, 0), "vkBindImageMemory");
  VkImageViewCreateInfo vci{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
  vci.image = image_;
  vci.viewType = VK_IMAGE_VIEW_TYPE_2D;
  vci.format = VK_FORMAT_R8G8B8A8_UNORM;
  vci.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
  check_vk(vkCreateImageView(device, &vci, nullptr, &view_), "vkCreateImageView");
  VkDescriptorImageInfo info{sampler_, view_, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL};
  VkWriteDescriptorSet write{VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
  write.dstSet = set_;
  write.descriptorCount = 1;
  write.descriptorType = VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER;
  write.pImageInfo = &info;
  vkUpdateDescriptorSets(device, 1, &write, 0, nullptr);
  width_ = width;
  height_ = height;
}

void GpuTexture::set_pixels(const std::vector<uint8_t>& rgba, int width, int height) {
  if (rgba.size() != size_t(width) * height * 4)
    throw std::runtime_error("GpuTexture: pixel count does not match size");
  pixels_ = rgba;
  if (!image_ || width != width_ || height != height_) create_image(width, height);
  dirty_ = true;
}

void GpuTexture::record_upload(VkCommandBuffer cmd) {
  if (!dirty_ || !image_) return;
  auto& s = staging_[window_.frame_slot() % VulkanWindow::kFramesInFlight];
  const VkDeviceSize bytes = pixels_.size();
  if (s.size < bytes) {
    window_.destroy_host_buffer(s);
    s = window_.create_host_buffer(bytes, VK_BUFFER_USAGE_TRANSFER_SRC_BIT);
  }
  std::memcpy(s.mapped, pixels_.data(), bytes);

  VkImageMemoryBarrier to_dst{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
  to_dst.srcAccessMask = uploaded_ ? VK_ACCESS_SHADER_READ_BIT : 0;
  to_dst.dstAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  to_dst.oldLayout = uploaded_ ? VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL : VK_IMAGE_LAYOUT_UNDEFINED;
  to_dst.newLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
  to_dst.srcQueueFamilyIndex = to_dst.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  to_dst.image = image_;
  to_dst.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
  vkCmdPipelineBarrier(cmd, uploaded_ ? VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT : VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT,
                       VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0, nullptr, 1, &to_dst);
  VkBufferImageCopy region{};
  region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
  region.imageExtent = {uint32_t(width_), uint32_t(height_), 1};
  vkCmdCopyBufferToImage(cmd, s.buffer, image_, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &region);
  VkImageMemoryBarrier to_read = to_dst;
  to_read.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  to_read.dstAccessMask = VK_ACCESS_SHADER_READ_BIT;
  to_read.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
  to_read.newLayout = VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL;
  vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT, 0, 0, nullptr, 0,
                       nullptr, 1, &to_read);
  dirty_ = false;
  uploaded_ = true;
}

// ---------------------------------------------------------------------------------------------
VkPipelineLayout create_strip_pipeline_layout(VkDevice device, VkDescriptorSetLayout set_layout,
                                              VkPushConstantRange push) {
  VkPipelineLayoutCreateInfo plci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  plci.setLayoutCount = 1;
  plci.pSetLayouts = &set_layout;
  plci.pushConstantRangeCount = 1;
  plci.pPushConstantRanges = &push;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  check_vk(vkCreatePipelineLayout(device, &plci, nullptr, &layout), "vkCreatePipelineLayout");
  return layout;
}

void destroy_strip_drawer(VkDevice device, VkPipeline pipeline, VkPipelineLayout layout, VkDescriptorPool pool,
                          VkDescriptorSetLayout set_layout, VkSampler sampler) {
  vkDeviceWaitIdle(device);
  vkDestroyPipeline(device, pipeline, nullptr);
  vkDestroyPipelineLayout(device, layout, nullptr);
  vkDestroyDescriptorPool(device, pool, nullptr);
  vkDestroyDescriptorSetLayout(device, set_layout, nullptr);
  vkDestroySampler(device, sampler, nullptr);
}

VkPipeline create_strip_pipeline(VkDevice device, VkRenderPass render_pass, VkPipelineLayout layout,
                                 std::span<const uint32_t> vertex_spirv, std::span<const uint32_t> fragment_spirv) {
  VkShaderModule modules[2];
  const std::span<const uint32_t> code[2] = {vertex_spirv, fragment_spirv};
  for (int i = 0; i < 2; ++i) {
    VkShaderModuleCreateInfo smci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    smci.codeSize = code[i].size_bytes();
    smci.pCode = code[i].data();
    check_vk(vkCreateShaderModule(device, &smci, nullptr, &modules[i]), "vkCreateShaderModule");
  }
  VkPipelineShaderStageCreateInfo stages[2] = {{VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO},
                                               {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO}};
  stages[0].stage = VK_SHADER_STAGE_VERTEX_BIT;
  stages[0].module = modules[0];
  stages[0].pName = "main";
  stages[1].stage = VK_SHADER_STAGE_FRAGMENT_BIT;
  stages[1].module = modules[1];
  stages[1].pName = "main";
  VkPipelineVertexInputStateCreateInfo vertex_input{VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO};
  VkPipelineInputAssemblyStateCreateInfo assembly{VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO};
  assembly.topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_STRIP;
  VkPipelineViewportStateCreateInfo viewport{VK_STRUCTURE_TYPE_PIPELINE_VIEWPORT_STATE_CREATE_INFO};
  viewport.viewportCount = 1;
  viewport.scissorCount = 1;
  VkPipelineRasterizationStateCreateInfo raster{VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO};
  raster.polygonMode = VK_POLYGON_MODE_FILL;
  raster.cullMode = VK_CULL_MODE_NONE;
  raster.lineWidth = 1.0f;
  VkPipelineMultisampleStateCreateInfo multisample{VK_STRUCTURE_TYPE_PIPELINE_MULTISAMPLE_STATE_CREATE_INFO};
  multisample.rasterizationSamples = VK_SAMPLE_COUNT_1_BIT;
  VkPipelineColorBlendAttachmentState blend{};
  blend.colorWriteMask =
      VK_COLOR_COMPONENT_R_BIT | VK_COLOR_COMPONENT_G_BIT | VK_COLOR_COMPONENT_B_BIT | VK_COLOR_COMPONENT_A_BIT;
  VkPipelineColorBlendStateCreateInfo color_blend{VK_STRUCTURE_TYPE_PIPELINE_COLOR_BLEND_STATE_CREATE_INFO};
  color_blend.attachmentCount = 1;
  color_blend.pAttachments = &blend;
  VkDynamicState dynamic_states[] = {VK_DYNAMIC_STATE_VIEWPORT, VK_DYNAMIC_STATE_SCISSOR};
  VkPipelineDynamicStateCreateInfo dynamic{VK_STRUCTURE_TYPE_PIPELINE_DYNAMIC_STATE_CREATE_INFO};
  dynamic.dynamicStateCount = 2;
  dynamic.pDynamicStates = dynamic_states;
  VkGraphicsPipelineCreateInfo gci{VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO};
  gci.stageCount = 2;
  gci.pStages = stages;
  gci.pVertexInputState = &vertex_input;
  gci.pInputAssemblyState = &assembly;
  gci.pViewportState = &viewport;
  gci.pRasterizationState = &raster;
  gci.pMultisampleState = &multisample;
  gci.pColorBlendState = &color_blend;
  gci.pDynamicState = &dynamic;
  gci.layout = layout;
  gci.renderPass = render_pass;
  VkPipeline pipeline = VK_NULL_HANDLE;
  VkResult r = vkCreateGraphicsPipelines(device, VK_NULL_HANDLE, 1, &gci, nullptr, &pipeline);
  for (VkShaderModule m : modules) vkDestroyShaderModule(device, m, nullptr);
  check_vk(r, "vkCreateGraphicsPipelines");
  return pipeline;
}

CallbackArea callback_area(const ImDrawCmd* cmd) {
  const ImDrawData* data = ImGui::GetDrawData();
  CallbackArea a;
  a.display_pos[0] = data->DisplayPos.x, a.display_pos[1] = data->DisplayPos.y;
  a.scale[0] = data->FramebufferScale.x, a.scale[1] = data->FramebufferScale.y;
  a.framebuffer[0] = data->DisplaySize.x * a.scale[0];
  a.framebuffer[1] = data->DisplaySize.y * a.scale[1];
  float x0 = std::max(0.0f, a.to_framebuffer_x(cmd->ClipRect.x));
  float y0 = std::max(0.0f, a.to_framebuffer_y(cmd->ClipRect.y));
  float x1 = std::min(a.framebuffer[0], a.to_framebuffer_x(cmd->ClipRect.z));
  float y1 = std::min(a.framebuffer[1], a.to_framebuffer_y(cmd->ClipRect.w));
  a.visible = x1 > x0 && y1 > y0;
  if (a.visible) a.scissor = {{int32_t(x0), int32_t(y0)}, {uint32_t(x1 - x0), uint32_t(y1 - y0)}};
  return a;
}

// ---------------------------------------------------------------------------------------------
TextureRenderer::TextureRenderer(VulkanWindow& window) : window_(window) {
  VkDevice device = window.device();
  VkSamplerCreateInfo sci{VK_STRUCTURE_TYPE_SAMPLER_CREATE_INFO};
  sci.magFilter = VK_FILTER_NEAREST;
  sci.minFilter = VK_FILTER_LINEAR;
  sci.mipmapMode = VK_SAMPLER_MIPMAP_MODE_NEAREST;
  sci.addressModeU = sci.addressModeV = sci.addressModeW = VK_SAMPLER_ADDRESS_MODE_REPEAT;
  sci.maxLod = 0.0f;
  check_vk(vkCreateSampler(device, &sci, nullptr, &sampler_), "vkCreateSampler");

  VkDescriptorSetLayoutBinding binding{};
  binding.binding = 0;
  binding.descriptorType = VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER;
  binding.descriptorCount = 1;
  binding.stageFlags = VK_SHADER_STAGE_FRAGMENT_BIT;
  VkDescriptorSetLayoutCreateInfo lci{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  lci.bindingCount = 1;
  lci.pBindings = &binding;
  check_vk(vkCreateDescriptorSetLayout(device, &lci, nullptr, &set_layout_), "vkCreateDescriptorSetLayout");
  VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, kMaxTextures};
  VkDescriptorPoolCreateInfo pci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  pci.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT;
  pci.maxSets = kMaxTextures;
  pci.poolSizeCount = 1;
  pci.pPoolSizes = &size;
  check_vk(vkCreateDescriptorPool(device, &pci, nullptr, &pool_), "vkCreateDescriptorPool");

  layout_ = create_strip_pipeline_layout(device, set_layout_, {VK_SHADER_STAGE_VERTEX_BIT, 0, 8 * sizeof(float)});
  pipeline_ = create_strip_pipeline(device, window.render_pass(), layout_, kVertexSpirv, kFragmentSpirv);
}

TextureRenderer::~TextureRenderer() {
  destroy_strip_drawer(window_.device(), pipeline_, layout_, pool_, set_layout_, sampler_);
}

std::unique_ptr<GpuTexture> TextureRenderer::create_texture() {
  VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  ai.descriptorPool = pool_;
  ai.descriptorSetCount = 1;
  ai.pSetLayouts = &set_layout_;
  VkDescriptorSet set;
  check_vk(vkAllocateDescriptorSets(window_.device(), &ai, &set), "vkAllocateDescriptorSets");
  return std::make_unique<GpuTexture>(window_, pool_, set, sampler_);
}

void TextureRenderer::draw(const GpuTexture& texture, const ImVec2& min, const ImVec2& max, const ImVec2& uv0,
                           const ImVec2& uv1) {
  if (!texture.drawable()) return;
  items_.push_back({this, texture.descriptor_set(), {min.x, min.y}, {max.x, max.y}, {uv0.x, uv0.y}, {uv1.x, uv1.y}});
  ImDrawList* list = ImGui::GetWindowDrawList();
  list->AddCallback(draw_callback, &items_.back());
  list->AddCallback(ImDrawCallback_ResetRenderState, nullptr);  // the backend rebinds its own state
}

void TextureRenderer::draw_callback(const ImDrawList*, const ImDrawCmd* cmd) {
  const auto* item = static_cast<const DrawItem*>(cmd->UserCallbackData);
  TextureRenderer& self = *item->renderer;
  VkCommandBuffer cb = self.cmd_;
  const CallbackArea area = callback_area(cmd);
  if (!area.visible) return;
  const float fb_w = area.framebuffer[0], fb_h = area.framebuffer[1];
  VkViewport viewport{0, 0, fb_w, fb_h, 0, 1};
  const VkRect2D scissor = area.scissor;
  float push[8] = {area.to_framebuffer_x(item->min[0]) / fb_w * 2 - 1,
                   area.to_framebuffer_y(item->min[1]) / fb_h * 2 - 1,
                   area.to_framebuffer_x(item->max[0]) / fb_w * 2 - 1,
                   area.to_framebuffer_y(item->max[1]) / fb_h * 2 - 1,
                   item->uv0[0],
                   item->uv0[1],
                   item->uv1[0],
                   item->uv1[1]};
  vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_GRAPHICS, self.pipeline_);
  vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_GRAPHICS, self.layout_, 0, 1, &item->set, 0, nullptr);
  vkCmdSetViewport(cb, 0, 1, &viewport);
  vkCmdSetScissor(cb, 0, 1, &scissor);
  vkCmdPushConstants(cb, self.layout_, VK_SHADER_STAGE_VERTEX_BIT, 0, sizeof push, push);
  vkCmdDraw(cb, 4, 1, 0, 0);
}

}  // namespace tessera::viewer
