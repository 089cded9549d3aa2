// The oracle's U-Net walk and sampler loop: runtime/src/model/unet.cpp and
// runtime/src/diffusion/sampler.cpp written as plain host code over oracle.hpp's ops.
#include <algorithm>
#include <cstring>

#include "portable/oracle.hpp"
#include "tessera/error.hpp"
#include "tessera/rng.hpp"
#include "tessera/safetensors.hpp"

namespace tessera::oracle {

const std::vector<float>& Model::operator[](const std::string& name) const {
  auto it = weights.find(name);
  if (it == weights.end()) throw Error("oracle: the model has no parameter '" + name + "'");
  return it->second;
}

Model load_model(const std::filesystem::path& path) {
  Model m;
  m.info = inspect_model_file(path).info;  // the runtime's checks: names, shapes, F32, finite
  const SafetensorsFile file = SafetensorsFile::load(path);
  for (const SafetensorsTensor& t : file.tensors()) {
    std::vector<float> v(static_cast<size_t>(t.numel()));
    std::memcpy(v.data(), t.data.data(), v.size() * sizeof(float));
    m.weights.emplace(t.name, std::move(v));
  }
  return m;
}

namespace {

struct Walk {
  const Model& m;
  const UNetConfig& c;
  Padding pad;
  std::vector<float> temb_act;  // [n, temb_dim]

  Tensor4 conv(const std::string& name, const Tensor4& x, int out_channels, int kernel, int stride,
               Padding padding) const {
    return conv2d(x, m[name + ".weight"], m[name + ".bias"], out_channels, kernel, stride, padding);
  }
  Tensor4 norm(const std::string& name, const Tensor4& x, bool silu) const {
    return groupnorm(x, m[name + ".weight"], m[name + ".bias"], c.norm_groups, silu);
  }

  Tensor4 res_block(const std::string& p, const Tensor4& x, int cout) const {
    Tensor4 h1 = conv(p + ".conv1", norm(p + ".norm1", x, true), cout, 3, 1, pad);
    const int temb_dim = c.time_embed_dim();
    channel_bias_add(h1, linear(temb_act, x.n, temb_dim, m[p + ".temb_proj.weight"], m[p + ".temb_proj.bias"], cout));
    Tensor4 h2 = conv(p + ".conv2", norm(p + ".norm2", h1, true), cout, 3, 1, pad);
    if (x.c != cout) return add(conv(p + ".skip", x, cout, 1, 1, Padding::Zeros), h2);
    return add(x, h2);
  }

  Tensor4 attention_block(const std::string& p, const Tensor4& x) const {
    Tensor4 qkv = conv(p + ".qkv", norm(p + ".norm", x, false), 3 * x.c, 1, 1, Padding::Zeros);
    Tensor4 o = attention(qkv, c.num_heads);
    return add(x, conv(p + ".proj", o, x.c, 1, 1, Padding::Zeros));
  }
};

std::string block_name(const char* path, int level, const char* kind, int i) {
  return std::string(path) + "." + std::to_string(level) + "." + kind + "." + std::to_string(i);
}

}  // namespace

Tensor4 unet_forward(const Model& model, const Tensor4& x, float timestep, std::span<const uint32_t> labels) {
  const UNetConfig& c = model.info.config;
  Walk walk{model, c, c.padding == PaddingMode::Circular ? Padding::Circular : Padding::Zeros, {}};
  const int n = x.n, base = c.base_channels, temb_dim = c.time_embed_dim();

  // Time (and class) embedding.
  std::vector<float> t(static_cast<size_t>(n), timestep);
  std::vector<float> e1 =
      linear(timestep_embedding(t, base), n, base, model["time_embed.0.weight"], model["time_embed.0.bias"], temb_dim);
  std::vector<float> e2 =
      linear(silu(e1), n, temb_dim, model["time_embed.2.weight"], model["time_embed.2.bias"], temb_dim);
  if (c.num_classes > 0) {
    if (labels.size() != size_t(n)) throw Error("oracle: one label per sample");
    const std::vector<float>& table = model["class_embed.weight"];
    std::vector<float> class_emb(e2.size(), 0.0f);  // 0 for a label past the table
    for (int i = 0; i < n; ++i)
      if (labels[i] <= uint32_t(c.num_classes))
        std::copy_n(&table[size_t(labels[i]) * temb_dim], temb_dim, &class_emb[size_t(i) * temb_dim]);
    e2 = add(e2, class_emb);
  }
  walk.temb_act = silu(e2);

  // Attention per level, decided at the training resolution (unet.cpp's topology()).
  std::vector<bool> attention_at;
  for (int level = 0, res = c.train_resolution; level < c.levels(); ++level, res /= 2)
    attention_at.push_back(c.has_attention_at(res));

  std::vector<Tensor4> skips;
  Tensor4 cur = walk.conv("conv_in", x, base, 3, 1, walk.pad);
  skips.push_back(cur);
  for (int level = 0; level < c.levels(); ++level) {
    const int cout = base * c.channel_mult[level];
    for (int i = 0; i < c.num_res_blocks; ++i) {
      cur = walk.res_block(block_name("down", level, "res", i), cur, cout);
      if (attention_at[level]) cur = walk.attention_block(block_name("down", level, "attn", i), cur);
      skips.push_back(cur);
    }
    if (level + 1 < c.levels()) {
      cur = walk.conv("down." + std::to_string(level) + ".downsample.conv", cur, cout, 3, 2, walk.pad);
      skips.push_back(cur);
    }
  }
  cur = walk.res_block("mid.res0", cur, cur.c);
  cur = walk.attention_block("mid.attn", cur);
  cur = walk.res_block("mid.res1", cur, cur.c);
  for (int level = c.levels() - 1; level >= 0; --level) {
    const int cout = base * c.channel_mult[level];
    for (int i = 0; i <= c.num_res_blocks; ++i) {
      Tensor4 in = concat_channels(cur, skips.back());
      skips.pop_back();
      cur = walk.res_block(block_name("up", level, "res", i), in, cout);
      if (attention_at[level]) cur = walk.attention_block(block_name("up", level, "attn", i), cur);
    }
    if (level > 0)
      cur = walk.conv("up." + std::to_string(level) + ".upsample.conv", upsample_nearest2x(cur), cout, 3, 1, walk.pad);
  }
  return walk.conv("conv_out", walk.norm("out_norm", cur, true), c.channels(), 3, 1, walk.pad);
}

std::vector<float> sample(const Model& model, const GenerationRequest& request) {
  const UNetConfig& c = model.info.config;
  const SamplerOptions& o = request.options;
  request.validate(model.info);
  if (o.init_image || o.mask) throw Error("oracle: img2img and inpainting are not covered");
  const NoiseSchedule schedule(c.schedule, c.timesteps);
  const std::vector<int> timesteps = sampler_timesteps(c.timesteps, o.steps, o.strength);
  const bool guided = c.num_classes > 0 && (o.guidance != 1.0 || o.force_guided_batch);
  const int channels = c.channels(), h = request.height, w = request.width;
  const uint64_t per_image = uint64_t(channels) * h * w;

  // Noise of slot s at counter s * 2P (sampler.hpp); slot 0 is the start, slot i + 1 step i.
  std::vector<float> x(per_image), z(per_image, 0.0f);
  rng::fill_normal(x, request.seed, kSamplerNoiseStream, 0);
  std::vector<float> x0 = x;
  std::vector<uint32_t> labels{request.label};
  if (guided) labels.push_back(uint32_t(c.num_classes));
  const ops::SamplerStepFlags flags{c.prediction == Prediction::V, o.clip_x0, guided};
  for (size_t i = 0; i < timesteps.size(); ++i) {
    const StepTimes times = sampler_step_times(timesteps, i, o.kind, o.lower_order_final);
    const StepCoefficients coef = step_coefficients(schedule, o.kind, times, o.eta, o.variance);
    Tensor4 input(static_cast<int>(labels.size()), channels, h, w);
    for (size_t k = 0; k < labels.size(); ++k) std::copy(x.begin(), x.end(), input.v.begin() + k * per_image);
    const Tensor4 out = unet_forward(model, input, float(times.t), labels);
    if (coef.sigma > 0) rng::fill_normal(z, request.seed, kSamplerNoiseStream, (i + 1) * 2 * per_image);
    sampler_step(x, out.v, z, x0, coef, o.guidance, flags);
  }
  return x;
}

}  // namespace tessera::oracle
