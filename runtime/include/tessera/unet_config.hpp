// The U-Net and diffusion configuration stored in a model file's "tessera.config"
// metadata (SPEC §3, §4; docs/model-format.md). Parsing validates every field and names
// the offending key; a key it does not know is an error, never ignored.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tessera/material_maps.hpp"

namespace tessera {

enum class PaddingMode { Zeros, Circular };
enum class Schedule { Linear, Cosine };
enum class Prediction { Eps, V };

// What a JSON config may leave out. A model file (format version 1) must give every key, since
// each changes what the weights compute (a missing "padding" would silently lose seamless
// tiling, a missing "prediction" sample a v model as eps). Configs written by hand for a new
// model (tests, `tessera bench --config`) start from the defaults below.
enum class MissingConfigKeys { UseDefaults, Refuse };

// Bound on the "tessera.config" text, checked before it is parsed: the canonical JSON of the
// largest valid config is a few hundred bytes.
inline constexpr size_t kMaxConfigJsonBytes = 64 * 1024;

struct UNetConfig {
  // The maps the model's channels carry, in table order (SPEC §12); input and output have
  // channels() channels. The file also stores in_channels/out_channels, derived from this.
  std::vector<MapKind> maps{MapKind::Albedo};
  int base_channels = 64;
  std::vector<int> channel_mult{1, 2, 2, 2};
  int num_res_blocks = 2;
  std::vector<int> attention_resolutions{16};
  int num_heads = 4;
  int norm_groups = 32;
  float dropout = 0.0f;
  int num_classes = 0;  // 0: unconditional; label num_classes is the null label
  PaddingMode padding = PaddingMode::Zeros;
  int train_resolution = 64;
  Schedule schedule = Schedule::Linear;
  int timesteps = 1000;
  Prediction prediction = Prediction::Eps;

  int channels() const { return map_channels(maps); }
  int levels() const { return static_cast<int>(channel_mult.size()); }
  int time_embed_dim() const { return 4 * base_channels; }
  // Image sizes must be multiples of this (one factor 2 per downsample).
  int size_multiple() const { return 1 << (levels() - 1); }
  bool has_attention_at(int resolution) const;

  // Throws tessera::Error naming the field when a value is out of range or inconsistent
  // (e.g. norm_groups not dividing a level's width, heads not dividing an attention width).
  void validate() const;

  std::string to_json() const;  // canonical JSON (sorted keys), every key
  // Validates; throws tessera::Error naming every missing key (with Refuse) and unknown key.
  static UNetConfig from_json(const std::string&, MissingConfigKeys missing = MissingConfigKeys::UseDefaults);
};

const char* padding_name(PaddingMode);
const char* schedule_name(Schedule);
const char* prediction_name(Prediction);

}  // namespace tessera
