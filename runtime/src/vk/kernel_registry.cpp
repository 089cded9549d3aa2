#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "tessera/context.hpp"
#include "tessera/kernel.hpp"
#include "tessera/vulkan_error.hpp"

namespace tessera::generated {
struct EmbeddedShader {
  const char* name;
  const unsigned char* bytes;
  size_t size;
};
extern const EmbeddedShader kEmbeddedShaders[];
}  // namespace tessera::generated

namespace tessera {

namespace {

VkDescriptorType descriptor_type(BindAs b) {
  return b == BindAs::Storage ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER : VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
}

// The cache file is specific to one driver build: name it by the pipeline-cache UUID.
std::string cache_file_name(VkPhysicalDevice pd) {
  VkPhysicalDeviceProperties p;
  vkGetPhysicalDeviceProperties(pd, &p);
  std::ostringstream o;
  o << "pipelines-" << std::hex;
  for (uint8_t b : p.pipelineCacheUUID) o << (b >> 4) << (b & 15);
  o << ".bin";
  return o.str();
}

std::vector<char> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return {};
  return std::vector<char>(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

std::span<const uint32_t> embedded_shader(const std::string& name) {
  for (auto* s = generated::kEmbeddedShaders; s->name; ++s)
    if (name == s->name) return {reinterpret_cast<const uint32_t*>(s->bytes), s->size / 4};
  throw Error("no embedded shader named '" + name.substr(0, 80) +
              "' (kernels are the rows of shaders/variants.txt and "
              "the shaders/*.comp files the table does not name)");
}

std::vector<std::string> embedded_shader_names() {
  std::vector<std::string> names;
  for (auto* s = generated::kEmbeddedShaders; s->name; ++s) names.emplace_back(s->name);
  return names;
}

std::string KernelSpec::key() const {
  std::ostringstream o;
  o << shader << '|';
  for (auto b : bindings) o << static_cast<int>(b);
  o << '|' << local_size[0] << ',' << local_size[1] << ',' << local_size[2] << '|';
  for (auto c : constants) o << c << ',';
  return o.str();
}

KernelRegistry::KernelRegistry(Context& ctx, std::string cache_dir) : ctx_(ctx) {
  std::vector<char> initial;
  if (cache_dir != "none") {
    cache_file_ = cache_dir + "/" + cache_file_name(ctx.physical_device());
    initial = read_file(cache_file_);
    // A cache from another driver or a damaged file is ignored, not trusted: check the header
    // (length, version one, vendor/device id, UUID) before handing it to the driver.
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(ctx.physical_device(), &p);
    bool ok = initial.size() >= 32;
    if (ok) {
      uint32_t header[4];
      std::memcpy(header, initial.data(), sizeof header);
      ok = header[0] >= 32 && header[1] == VK_PIPELINE_CACHE_HEADER_VERSION_ONE && header[2] == p.vendorID &&
           header[3] == p.deviceID && std::memcmp(initial.data() + 16, p.pipelineCacheUUID, VK_UUID_SIZE) == 0;
    }
    if (!ok) initial.clear();
  }
  VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  ci.initialDataSize = initial.size();
  ci.pInitialData = initial.empty() ? nullptr : initial.data();
  VK_CHECK(vkCreatePipelineCache(ctx.device(), &ci, nullptr, &cache_));
}

KernelRegistry::~KernelRegistry() {
  try {
    save_cache();
  } catch (...) {
    // Losing the cache only costs start-up time next run; never fail a destructor for it.
  }
  VkDevice d = ctx_.device();
  for (auto& [key, k] : kernels_) {
    vkDestroyPipeline(d, k->pipeline, nullptr);
    vkDestroyPipelineLayout(d, k->layout, nullptr);
    vkDestroyDescriptorSetLayout(d, k->set_layout, nullptr);
  }
  for (auto& [name, m] : modules_) vkDestroyShaderModule(d, m, nullptr);
  vkDestroyPipelineCache(d, cache_, nullptr);
}

void KernelRegistry::save_cache() const {
  if (cache_file_.empty()) return;
  size_t size = 0;
  VK_CHECK(vkGetPipelineCacheData(ctx_.device(), cache_, &size, nullptr));
  std::vector<char> data(size);
  VK_CHECK(vkGetPipelineCacheData(ctx_.device(), cache_, &size, data.data()));
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(cache_file_).parent_path(), ec);
  // Write-then-rename so a crash never leaves a torn cache file behind.
  std::string tmp = cache_file_ + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return;
    f.write(data.data(), static_cast<std::streamsize>(size));
    if (!f) {
      std::filesystem::remove(tmp, ec);
      return;
    }
  }
  std::filesystem::rename(tmp, cache_file_, ec);
  if (ec) std::filesystem::remove(tmp, ec);
}

const Kernel& KernelRegistry::get(const KernelSpec& spec) {
  std::string key = spec.key();
  if (auto it = kernels_.find(key); it != kernels_.end()) return *it->second;
  VkDevice d = ctx_.device();

  const auto& info = ctx_.info();
  uint64_t invocations = uint64_t(spec.local_size[0]) * spec.local_size[1] * spec.local_size[2];
  if (invocations == 0 || invocations > info.max_workgroup_invocations)
    throw UnsupportedError("kernel " + spec.shader + ": workgroup of " + std::to_string(invocations) +
                           " invocations exceeds the device limit " + std::to_string(info.max_workgroup_invocations));

  VkShaderModule module;
  if (auto it = modules_.find(spec.shader); it != modules_.end()) {
    module = it->second;
  } else {
    auto code = embedded_shader(spec.shader);
    VkShaderModuleCreateInfo mci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    mci.codeSize = code.size() * 4;
    mci.pCode = code.data();
    VK_CHECK(vkCreateShaderModule(d, &mci, nullptr, &module));
    modules_.emplace(spec.shader, module);
  }

  auto kernel = std::make_unique<Kernel>();
  kernel->spec = spec;
  std::vector<VkDescriptorSetLayoutBinding> bindings(spec.bindings.size());
  for (size_t i = 0; i < bindings.size(); ++i) {
    bindings[i].binding = static_cast<uint32_t>(i);
    bindings[i].descriptorType = descriptor_type(spec.bindings[i]);
    bindings[i].descriptorCount = 1;
    bindings[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
  }
  VkDescriptorSetLayoutCreateInfo dl{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  dl.bindingCount = static_cast<uint32_t>(bindings.size());
  dl.pBindings = bindings.data();
  VK_CHECK(vkCreateDescriptorSetLayout(d, &dl, nullptr, &kernel->set_layout));

  VkPushConstantRange pc{VK_SHADER_STAGE_COMPUTE_BIT, 0, kMaxPushConstantBytes};
  VkPipelineLayoutCreateInfo pl{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  pl.setLayoutCount = 1;
  pl.pSetLayouts = &kernel->set_layout;
  pl.pushConstantRangeCount = 1;
  pl.pPushConstantRanges = &pc;
  VkResult r = vkCreatePipelineLayout(d, &pl, nullptr, &kernel->layout);
  if (r < 0) vkDestroyDescriptorSetLayout(d, kernel->set_layout, nullptr);
  VK_CHECK(r);

  std::vector<uint32_t> values = {spec.local_size[0], spec.local_size[1], spec.local_size[2]};
  values.insert(values.end(), spec.constants.begin(), spec.constants.end());
  std::vector<VkSpecializationMapEntry> entries(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    entries[i] = {static_cast<uint32_t>(i), static_cast<uint32_t>(i * 4), 4};
  VkSpecializationInfo si{static_cast<uint32_t>(entries.size()), entries.data(), values.size() * 4, values.data()};

  VkComputePipelineCreateInfo cpi{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  cpi.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
  cpi.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  cpi.stage.module = module;
  cpi.stage.pName = "main";
  cpi.stage.pSpecializationInfo = &si;
  cpi.layout = kernel->layout;
  r = vkCreateComputePipelines(d, cache_, 1, &cpi, nullptr, &kernel->pipeline);
  if (r < 0) {
    vkDestroyPipelineLayout(d, kernel->layout, nullptr);
    vkDestroyDescriptorSetLayout(d, kernel->set_layout, nullptr);
    throw VulkanError("vkCreateComputePipelines for kernel " + key, r);
  }
  return *kernels_.emplace(key, std::move(kernel)).first->second;
}

}  // namespace tessera
