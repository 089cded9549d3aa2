// Kernels: compute pipelines built once per (shader, bindings, specialization constants)
// and kept for the context's lifetime; a VkPipelineCache persisted on disk makes the
// next process start fast.
//
// Shader conventions (see shaders/include/common.glsl):
//   - descriptor set 0, bindings 0..n-1 in the order of KernelSpec::bindings;
//   - local size from specialization constants 0, 1, 2; shader-specific constants from 3 on;
//   - one push-constant block of at most 128 bytes.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <vulkan/vulkan.h>

namespace tessera {

class Context;

// How a tensor is bound to a shader binding.
enum class BindAs : uint8_t {
  Storage,     // layout(std430) buffer
  TexelF32,    // samplerBuffer over R32_SFLOAT   (read-only, vectorized loads on lavapipe)
  TexelVec4,   // samplerBuffer over R32G32B32A32_SFLOAT (needs 16-byte aligned offset and size)
  TexelU32,    // usamplerBuffer over R32_UINT
};

struct KernelSpec {
  std::string shader;                       // kernel: shaders/<shader>.comp or a variants.txt row
  std::vector<BindAs> bindings;
  std::array<uint32_t, 3> local_size{64, 1, 1};
  std::vector<uint32_t> constants;          // specialization constants 3, 4, ...

  std::string key() const;
};

struct Kernel {
  KernelSpec spec;
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkPipeline pipeline = VK_NULL_HANDLE;
};

inline constexpr uint32_t kMaxPushConstantBytes = 128;

// Embedded SPIR-V of every kernel, compiled at build time from shaders/*.comp as the table
// shaders/variants.txt says (cmake/ShaderVariants.cmake). Throws if unknown.
std::span<const uint32_t> embedded_shader(const std::string& name);
std::vector<std::string> embedded_shader_names();

class KernelRegistry {
 public:
  KernelRegistry(Context& ctx, std::string cache_dir);
  ~KernelRegistry();  // persists the pipeline cache (atomically)
  KernelRegistry(const KernelRegistry&) = delete;
  KernelRegistry& operator=(const KernelRegistry&) = delete;

  const Kernel& get(const KernelSpec& spec);
  size_t size() const { return kernels_.size(); }
  const std::string& cache_file() const { return cache_file_; }
  void save_cache() const;

 private:
  Context& ctx_;
  std::string cache_file_;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  std::map<std::string, VkShaderModule> modules_;
  std::map<std::string, std::unique_ptr<Kernel>> kernels_;
};

}  // namespace tessera
