// Writes a model file with random weights for tests that load models from disk (CLI, plugin).
#pragma once
#include <cstdint>
#include <filesystem>
#include <vector>

#include "tessera/model_file.hpp"
#include "tessera/rng.hpp"
#include "tessera/unet.hpp"

namespace tessera::testing {

// Weights are 0.1 * N(0, 1) from `seed` (alignment gaps left at zero), so every path matters.
inline void write_random_model(const std::filesystem::path& path, const ModelInfo& info, uint64_t seed) {
  ParameterSet declared;
  UNet::declare_parameters(info.config, declared);
  std::vector<float> flat(static_cast<size_t>(declared.flat_elements()), 0.0f);
  uint64_t stream = 1;
  for (const auto& e : declared.entries()) {
    std::vector<float> w(static_cast<size_t>(shape_numel(e.shape)));
    rng::fill_normal(w, seed, stream++);
    for (size_t i = 0; i < w.size(); ++i) flat[e.offset + i] = 0.1f * w[i];
  }
  save_model(path, info, flat);
}

}  // namespace tessera::testing
