// Model files with random weights for tests that load models from disk (CLI, plugin, viewer).
#pragma once
#include <cstdint>
#include <filesystem>
#include <vector>

#include "tessera/model_file.hpp"
#include "tessera/rng.hpp"
#include "tessera/unet.hpp"

namespace tessera::testing {

// Weights are 0.1 * N(0, 1) from `seed` (alignment gaps left at zero), so every path matters.
// The class embedding's scale can be raised so that random weights still give each class a
// visibly different output.
inline void write_random_model(const std::filesystem::path& path, const ModelInfo& info, uint64_t seed,
                               float class_embed_scale = 0.1f) {
  ParameterSet declared;
  UNet::declare_parameters(info.config, declared);
  std::vector<float> flat(static_cast<size_t>(declared.flat_elements()), 0.0f);
  uint64_t stream = 1;
  for (const auto& e : declared.entries()) {
    std::vector<float> w(static_cast<size_t>(shape_numel(e.shape)));
    rng::fill_normal(w, seed, stream++);
    const float scale = e.name == "class_embed.weight" ? class_embed_scale : 0.1f;
    for (size_t i = 0; i < w.size(); ++i) flat[e.offset + i] = scale * w[i];
  }
  save_model(path, info, flat);
}

// A small class-conditional model: classes "brick" and "moss", 16x16, circular padding.
inline void save_random_model(const std::filesystem::path& path, uint64_t seed, float class_embed_scale = 0.1f) {
  ModelInfo info;
  info.config = UNetConfig::from_json(
      R"({"base_channels": 16, "channel_mult": [1, 2], "num_res_blocks": 1, "attention_resolutions": [8],
          "num_heads": 2, "norm_groups": 4, "num_classes": 2, "padding": "circular", "train_resolution": 16})");
  info.classes = {"brick", "moss"};
  write_random_model(path, info, seed, class_embed_scale);
}

}  // namespace tessera::testing
