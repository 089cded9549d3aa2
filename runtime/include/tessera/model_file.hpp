// Tessera model files and training checkpoints (docs/model-format.md, SPEC §7).
//   model:       safetensors of every U-Net parameter (F32, names as the PyTorch reference)
//                + metadata tessera.format_version, tessera.config, tessera.classes,
//                tessera.provenance.*; exported with the EMA weights.
//   checkpoint:  the same tensors for the raw weights, plus "ema/<name>", "adam_m/<name>",
//                "adam_v/<name>", and metadata tessera.checkpoint.step / .seed / .options.
// Both written atomically; loading checks everything against the config and names every
// problem with the file: the config must give every key (MissingConfigKeys::Refuse), metadata
// JSON is size- and depth-bounded before it is parsed, and every weight must be finite.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/parameters.hpp"
#include "tessera/unet_config.hpp"

namespace tessera {

class Context;

inline constexpr const char* kModelFormatVersion = "1";

// Bound on the "tessera.classes" text, checked before it is parsed: room for the largest
// num_classes (100,000) with names of about 40 bytes.
inline constexpr size_t kMaxClassesJsonBytes = 4 << 20;

struct ModelInfo {
  UNetConfig config;
  std::vector<std::string> classes;            // index = label
  std::map<std::string, std::string> provenance;  // without the "tessera.provenance." prefix
};

// The class of `model` that `text` names: a class name, else a decimal index (a name wins, so
// a class named "3" stays reachable). The index overload checks the range; an unconditional
// model accepts index 0 only (its one label). Throws Error "unknown class 'x'; this model's
// classes: 0 'stone', 1 'wood'" (names quoted, the list bounded), or "class 5 is out of range;
// ..." or "the model is unconditional (it has no classes)". The one class lookup of the CLI
// and the C API (and, through tsr_model_find_class, the viewer).
uint32_t resolve_class(const ModelInfo& model, std::string_view text);
uint32_t resolve_class(const ModelInfo& model, uint32_t index);

struct LoadedModel {
  ModelInfo info;
  std::unique_ptr<ParameterSet> params;  // allocated without gradients
};

// Metadata only (format version, config, classes, provenance); the tensors are not checked.
ModelInfo read_model_info(const std::filesystem::path& path);
// Full load onto the device: every parameter of the config present, F32, right shape, nothing else.
LoadedModel load_model(Context& ctx, const std::filesystem::path& path);
LoadedModel load_model(Context& ctx, std::span<const std::byte> bytes, const std::string& source);

// `flat`: parameter values laid out as a ParameterSet declared from info.config
// (ParameterSet::entries() offsets), e.g. the EMA buffer downloaded from the device.
void save_model(const std::filesystem::path& path, const ModelInfo& info, std::span<const float> flat);

struct Checkpoint {
  ModelInfo info;
  int64_t step = 0;
  uint64_t seed = 0;
  // The trainer's options (a JSON object), for `--resume` to reuse.
  std::string options_json = "{}";
  std::vector<float> weights, ema, adam_m, adam_v;  // flat layouts
};
void save_checkpoint(const std::filesystem::path& path, const Checkpoint& c);
Checkpoint load_checkpoint(const std::filesystem::path& path);

// What a model file or training checkpoint holds, checked as load_model / load_checkpoint check
// it (metadata, every tensor's name, shape and dtype, finite values) but without a device, for
// `tessera info`. A checkpoint is recognised by its tessera.checkpoint.step metadata.
struct ModelFileSummary {
  ModelInfo info;
  int64_t parameter_count = 0;
  bool is_checkpoint = false;
  int64_t step = 0;  // checkpoint only: step, seed and trainer options
  uint64_t seed = 0;
  std::string options_json;
};
ModelFileSummary inspect_model_file(const std::filesystem::path& path);

}  // namespace tessera
