#include "tessera/model_file.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>

#include "model/bounded_json.hpp"
#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/quote_name.hpp"
#include "tessera/safetensors.hpp"
#include "tessera/unet.hpp"

namespace tessera {

namespace {

constexpr const char* kStep = "tessera.checkpoint.step";
constexpr const char* kSeed = "tessera.checkpoint.seed";
constexpr const char* kOptions = "tessera.checkpoint.options";

ModelInfo info_from(const SafetensorsFile& file) {
  const std::string& src = file.source();
  auto version = file.metadata_value(kMetadataFormatVersion);
  if (!version) throw Error(src + ": not a Tessera model (no " + kMetadataFormatVersion + " metadata)");
  if (*version != kModelFormatVersion)
    throw Error(src + ": format version '" + *version + "' is not supported (this build reads version " +
                kModelFormatVersion + ")");
  ModelInfo info;
  auto config = file.metadata_value(kMetadataConfig);
  if (!config) throw Error(src + ": no " + std::string(kMetadataConfig) + " metadata");
  nlohmann::json classes;
  try {
    info.config = UNetConfig::from_json(*config, MissingConfigKeys::Refuse);
    classes = parse_bounded_json(file.metadata_value(kMetadataClasses).value_or("[]"), kMetadataClasses,
                                 kMaxClassesJsonBytes, /*max_depth=*/1);
  } catch (const Error& e) {
    throw Error(src + ": " + e.what());
  }
  if (!classes.is_array()) throw Error(src + ": " + kMetadataClasses + " is not a JSON list of names");
  for (const auto& c : classes) {
    if (!c.is_string()) throw Error(src + ": " + kMetadataClasses + " holds a non-string entry");
    info.classes.push_back(c.get<std::string>());
  }
  if (info.config.num_classes > 0 && static_cast<int>(info.classes.size()) != info.config.num_classes)
    throw Error(src + ": " + std::to_string(info.classes.size()) + " class names for num_classes " +
                std::to_string(info.config.num_classes));
  if (info.config.num_classes == 0 && !info.classes.empty())
    throw Error(src + ": class names given for an unconditional model (num_classes 0)");
  std::string prefix = kMetadataProvenancePrefix;
  for (const auto& [k, v] : file.metadata())
    if (k.rfind(prefix, 0) == 0) info.provenance[k.substr(prefix.size())] = v;
  return info;
}

std::map<std::string, std::string> metadata_of(const ModelInfo& info) {
  std::map<std::string, std::string> m;
  m[kMetadataFormatVersion] = kModelFormatVersion;
  m[kMetadataConfig] = info.config.to_json();
  m[kMetadataClasses] = nlohmann::json(info.classes).dump();
  for (const auto& [k, v] : info.provenance) m[std::string(kMetadataProvenancePrefix) + k] = v;
  return m;
}

// Tensor name prefixes: a model holds one set of weights, a checkpoint four.
using TensorGroups = std::span<const char* const>;
constexpr const char* kModelGroups[] = {""};
constexpr const char* kCheckpointGroups[] = {"", "ema/", "adam_m/", "adam_v/"};

// Every tensor the config declares, once per group, F32 and of the declared shape, nothing
// else, and every value finite. Throws FormatError naming the file and every problem.
void check_tensors(const SafetensorsFile& file, const ParameterSet& layout, TensorGroups groups) {
  ExpectedTensors e;
  for (const char* g : groups)
    for (const auto& entry : layout.entries()) e.expect_tensor(g + entry.name, SafetensorsDType::F32, entry.shape);
  e.check(file);
  std::vector<std::string> non_finite = non_finite_f32_problems(file);
  if (!non_finite.empty()) throw FormatError(file.source(), std::move(non_finite));
}

bool is_checkpoint(const SafetensorsFile& file) { return file.metadata_value(kStep).has_value(); }

// Fills the step, seed and options_json of a Checkpoint or ModelFileSummary.
template <typename T>
void read_checkpoint_fields(const SafetensorsFile& file, T& out) {
  auto number = [&](const char* key) -> uint64_t {
    const std::string& s = file.require_metadata(key);
    try {
      size_t used = 0;
      uint64_t v = std::stoull(s, &used);
      if (used == s.size()) return v;
    } catch (...) {
    }
    throw Error(file.source() + ": metadata " + key + " = '" + s.substr(0, 64) + "' is not a non-negative integer");
  };
  out.step = static_cast<int64_t>(number(kStep));
  out.seed = number(kSeed);
  out.options_json = file.metadata_value(kOptions).value_or("{}");
  // `tessera train --resume` parses the options: bounded here like the config.
  try {
    if (!parse_bounded_json(out.options_json, kOptions, kMaxConfigJsonBytes, /*max_depth=*/2).is_object())
      throw Error(std::string(kOptions) + " is not a JSON object");
  } catch (const Error& e) {
    throw Error(file.source() + ": " + e.what());
  }
}

void copy_group(const SafetensorsFile& file, const ParameterSet& layout, const std::string& group,
                std::vector<float>& flat) {
  flat.assign(static_cast<size_t>(layout.flat_elements()), 0.0f);
  for (const auto& entry : layout.entries()) {
    const auto& t = file.tensor(group + entry.name);
    std::memcpy(flat.data() + entry.offset, t.data.data(), t.data.size());
  }
}

void write(const std::filesystem::path& path, const ParameterSet& layout,
           std::initializer_list<std::pair<const char*, const std::vector<float>*>> groups,
           std::map<std::string, std::string> metadata) {
  std::vector<SafetensorsTensorData> tensors;
  for (const auto& [g, flat] : groups) {
    if (static_cast<int64_t>(flat->size()) != layout.flat_elements())
      throw Error("writing '" + path.string() + "': " + std::to_string(flat->size()) + " values for a model of " +
                  std::to_string(layout.flat_elements()));
    for (const auto& e : layout.entries())
      tensors.push_back({g + e.name, SafetensorsDType::F32, e.shape,
                         std::as_bytes(std::span(flat->data() + e.offset, static_cast<size_t>(shape_numel(e.shape))))});
  }
  write_safetensors(path, tensors, metadata);
}

LoadedModel load_from(Context& ctx, const SafetensorsFile& file) {
  LoadedModel m;
  m.info = info_from(file);
  m.params = std::make_unique<ParameterSet>();
  UNet::declare_parameters(m.info.config, *m.params);
  if (is_checkpoint(file))
    throw Error(file.source() + ": this is a training checkpoint (tessera train --resume reads it), not a model; " +
                "load the model.safetensors next to it");
  check_tensors(file, *m.params, kModelGroups);
  std::vector<float> flat;
  copy_group(file, *m.params, "", flat);
  m.params->allocate(ctx, /*with_grads=*/false);
  m.params->upload_flat(flat);
  return m;
}

[[noreturn]] void unknown_class(const ModelInfo& model, const std::string& what) {
  const auto classes = static_cast<size_t>(model.config.num_classes);
  if (classes == 0) throw Error("the model is unconditional (it has no classes)");
  std::string list;  // bounded: a model may hold many long names
  for (size_t i = 0; i < classes && i < 16; ++i)
    list += (i ? ", " : "") + std::to_string(i) + (i < model.classes.size() ? " " + quote_name(model.classes[i]) : "");
  if (classes > 16) list += ", ... (" + std::to_string(classes) + " classes)";
  throw Error(what + "; this model's classes: " + list);
}

}  // namespace

ModelInfo read_model_info(const std::filesystem::path& path) { return info_from(SafetensorsFile::load(path)); }

uint32_t resolve_class(const ModelInfo& model, uint32_t index) {
  if (index < static_cast<uint32_t>(std::max(model.config.num_classes, 1))) return index;
  unknown_class(model, "class " + std::to_string(index) + " is out of range");
}

uint32_t resolve_class(const ModelInfo& model, std::string_view text) {
  auto name = std::find(model.classes.begin(), model.classes.end(), text);
  if (name != model.classes.end()) return static_cast<uint32_t>(name - model.classes.begin());
  uint32_t index = 0;  // plain decimal digits only
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), index);
  if (error == std::errc() && end == text.data() + text.size()) return resolve_class(model, index);
  unknown_class(model, "unknown class " + quote_name(text));
}

LoadedModel load_model(Context& ctx, const std::filesystem::path& path) {
  return load_from(ctx, SafetensorsFile::load(path));
}

LoadedModel load_model(Context& ctx, std::span<const std::byte> bytes, const std::string& source) {
  return load_from(ctx, SafetensorsFile::parse(bytes, source));
}

void save_model(const std::filesystem::path& path, const ModelInfo& info, std::span<const float> flat) {
  ParameterSet layout;
  UNet::declare_parameters(info.config, layout);
  std::vector<float> copy(flat.begin(), flat.end());
  write(path, layout, {{"", &copy}}, metadata_of(info));
}

void save_checkpoint(const std::filesystem::path& path, const Checkpoint& c) {
  ParameterSet layout;
  UNet::declare_parameters(c.info.config, layout);
  auto meta = metadata_of(c.info);
  meta[kStep] = std::to_string(c.step);
  meta[kSeed] = std::to_string(c.seed);
  meta[kOptions] = c.options_json;
  write(path, layout, {{"", &c.weights}, {"ema/", &c.ema}, {"adam_m/", &c.adam_m}, {"adam_v/", &c.adam_v}}, meta);
}

Checkpoint load_checkpoint(const std::filesystem::path& path) {
  SafetensorsFile file = SafetensorsFile::load(path);
  Checkpoint c;
  c.info = info_from(file);
  read_checkpoint_fields(file, c);
  ParameterSet layout;
  UNet::declare_parameters(c.info.config, layout);
  check_tensors(file, layout, kCheckpointGroups);
  copy_group(file, layout, "", c.weights);
  copy_group(file, layout, "ema/", c.ema);
  copy_group(file, layout, "adam_m/", c.adam_m);
  copy_group(file, layout, "adam_v/", c.adam_v);
  return c;
}

ModelFileSummary inspect_model_file(const std::filesystem::path& path) {
  SafetensorsFile file = SafetensorsFile::load(path);
  ModelFileSummary s;
  s.info = info_from(file);
  s.is_checkpoint = is_checkpoint(file);
  if (s.is_checkpoint) read_checkpoint_fields(file, s);
  ParameterSet layout;
  UNet::declare_parameters(s.info.config, layout);
  check_tensors(file, layout, s.is_checkpoint ? TensorGroups(kCheckpointGroups) : TensorGroups(kModelGroups));
  s.parameter_count = layout.parameter_count();
  return s;
}

}  // namespace tessera
