// The test oracle of portable mode (docs/portable.md): inference in plain C++ fp32, scalar loops
// that compute every element in the order the contract fixes, with the shared portable math
// (runtime/include/tessera/portable_math.hpp) for exp, sigmoid and rsqrt. Not a product path:
// it exists so that the tests can show the device's portable kernels produce these exact bits.
// Its sources are built with -ffp-contract=off (a PUBLIC option of tessera_runtime, inherited by
// the tests): every a*b+c rounds twice, as the shaders' `precise` arithmetic does.
//
// The network walk mirrors runtime/src/model/unet.cpp (the same blocks in the same order, read
// from the same parameter names); the sampler mirrors runtime/src/diffusion/sampler.cpp (same
// timesteps and host coefficients, same noise keys and counters).
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "tessera/model_file.hpp"
#include "tessera/sampler.hpp"

namespace tessera::oracle {

// A dense [n, c, h, w] f32 tensor on the host.
struct Tensor4 {
  int n = 0, c = 0, h = 0, w = 0;
  std::vector<float> v;
  Tensor4() = default;
  Tensor4(int n, int c, int h, int w) : n(n), c(c), h(h), w(w), v(size_t(n) * c * h * w) {}
  float& at(int i, int ch, int y, int x) { return v[((size_t(i) * c + ch) * h + y) * w + x]; }
  float at(int i, int ch, int y, int x) const { return v[((size_t(i) * c + ch) * h + y) * w + x]; }
  size_t plane() const { return size_t(h) * w; }
};

// A model file's config and weights, read with the runtime's model-file reader.
struct Model {
  ModelInfo info;
  std::map<std::string, std::vector<float>> weights;
  const std::vector<float>& operator[](const std::string& name) const;
};
Model load_model(const std::filesystem::path& path);

// ---- the ops, one element order each (docs/portable.md) -------------------------------------
enum class Padding { Zeros, Circular };
// y = conv(x, weight [co, ci, k, k]) + bias, kernel 1 or 3, stride 1 or 2, padding k / 2.
Tensor4 conv2d(const Tensor4& x, std::span<const float> weight, std::span<const float> bias, int out_channels,
               int kernel, int stride, Padding padding);
// GroupNorm over `groups` groups of each sample, eps 1e-5, then SiLU when `silu`.
Tensor4 groupnorm(const Tensor4& x, std::span<const float> gamma, std::span<const float> beta, int groups, bool silu);
// y [n, out] = x [n, in] W^T + b (W [out, in]).
std::vector<float> linear(std::span<const float> x, int n, int in, std::span<const float> weight,
                          std::span<const float> bias, int out);
float silu(float x);
std::vector<float> silu(std::span<const float> x);
// Sinusoidal embedding of the timestep values (cos half, then sin half), as the device op.
std::vector<float> timestep_embedding(std::span<const float> timesteps, int dim);
// o [n, C, H, W] = multi-head self-attention of qkv [n, 3C, H, W] (tessera/ops/attention.hpp).
Tensor4 attention(const Tensor4& qkv, int heads);
Tensor4 upsample_nearest2x(const Tensor4& x);
// a + b, elementwise (same shape).
std::vector<float> add(std::span<const float> a, std::span<const float> b);
Tensor4 add(const Tensor4& a, const Tensor4& b);
// x[n, c, :, :] += bias[n * C + c].
void channel_bias_add(Tensor4& x, std::span<const float> bias);
Tensor4 concat_channels(const Tensor4& a, const Tensor4& b);
// The sampler update in place (shaders' sampler_step), all of the batch at one timestep.
void sampler_step(std::span<float> x, std::span<const float> model_out, std::span<const float> z, std::span<float> x0,
                  const ops::SamplerStepCoefficients& c, double guidance, const ops::SamplerStepFlags& flags);

// ---- the network and the sampler -------------------------------------------------------------
// The model output for x [n, C, H, W] at one timestep; labels: one per sample (class models).
Tensor4 unet_forward(const Model& model, const Tensor4& x, float timestep, std::span<const uint32_t> labels);

// One image [C, H, W] as Sampler::sample makes it for request (batch 1, no img2img/inpainting).
std::vector<float> sample(const Model& model, const GenerationRequest& request);

}  // namespace tessera::oracle
