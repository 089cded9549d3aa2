#include "tessera/unet_config.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>

#include "model/bounded_json.hpp"
#include "tessera/error.hpp"

namespace tessera {

using nlohmann::json;

namespace {

// A key or value from the file, quoted and cut short: a hostile config may hold megabytes.
std::string quoted(const std::string& s) {
  constexpr size_t kShown = 64;
  return "'" + (s.size() <= kShown ? s : s.substr(0, kShown) + "...") + "'";
}

// "a, b, c" for the first few, then how many more.
std::string listed(const std::vector<std::string>& items) {
  constexpr size_t kShown = 8;
  std::string out;
  for (size_t i = 0; i < items.size() && i < kShown; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > kShown) out += " and " + std::to_string(items.size() - kShown) + " more";
  return out;
}

}  // namespace

const char* padding_name(PaddingMode p) { return p == PaddingMode::Circular ? "circular" : "zeros"; }
const char* schedule_name(Schedule s) { return s == Schedule::Cosine ? "cosine" : "linear"; }
const char* prediction_name(Prediction p) { return p == Prediction::V ? "v" : "eps"; }

bool UNetConfig::has_attention_at(int resolution) const {
  return std::find(attention_resolutions.begin(), attention_resolutions.end(), resolution) !=
         attention_resolutions.end();
}

void UNetConfig::validate() const {
  auto fail = [](const std::string& m) { throw Error("model config: " + m); };
  auto positive = [&](const char* key, int v, int max) {
    if (v <= 0 || v > max) fail(std::string(key) + " = " + std::to_string(v) + " is outside 1.." + std::to_string(max));
  };
  try {
    check_map_list(maps);
  } catch (const Error& e) {
    fail(e.what());
  }
  positive("base_channels", base_channels, 4096);
  positive("num_res_blocks", num_res_blocks, 16);
  positive("num_heads", num_heads, 64);
  positive("norm_groups", norm_groups, 1024);
  positive("train_resolution", train_resolution, 8192);
  positive("timesteps", timesteps, 100000);
  if (channel_mult.empty() || channel_mult.size() > 8) fail("channel_mult needs 1..8 levels");
  for (int m : channel_mult) positive("channel_mult entry", m, 64);
  if (num_classes < 0 || num_classes > 100000)
    fail("num_classes = " + std::to_string(num_classes) + " is negative or absurd");
  if (!(dropout >= 0.0f && dropout < 1.0f)) fail("dropout = " + std::to_string(dropout) + " is outside [0, 1)");
  if (train_resolution % size_multiple() != 0)
    fail("train_resolution " + std::to_string(train_resolution) + " is not a multiple of " +
         std::to_string(size_multiple()) + " (2^(levels-1))");
  if (base_channels % norm_groups != 0)
    fail("norm_groups " + std::to_string(norm_groups) + " does not divide base_channels " +
         std::to_string(base_channels));
  int res = train_resolution;
  for (int level = 0; level < levels(); ++level) {
    int ch = base_channels * channel_mult[level];
    if (ch % norm_groups != 0)
      fail("norm_groups " + std::to_string(norm_groups) + " does not divide level " + std::to_string(level) +
           " width " + std::to_string(ch));
    if (has_attention_at(res) && ch % num_heads != 0)
      fail("num_heads " + std::to_string(num_heads) + " does not divide attention width " + std::to_string(ch));
    if (level + 1 < levels()) res /= 2;
  }
  int mid = base_channels * channel_mult.back();
  if (mid % num_heads != 0)
    fail("num_heads " + std::to_string(num_heads) + " does not divide the middle width " + std::to_string(mid));
}

std::string UNetConfig::to_json() const {
  json j;
  // Written for readers that predate "maps"; an RGB model's file is byte-identical to theirs.
  j["in_channels"] = channels();
  j["out_channels"] = channels();
  if (maps != std::vector<MapKind>{MapKind::Albedo}) {
    std::vector<std::string> names;
    for (MapKind k : maps) names.push_back(map_spec(k).name);
    j["maps"] = names;
  }
  j["base_channels"] = base_channels;
  j["channel_mult"] = channel_mult;
  j["num_res_blocks"] = num_res_blocks;
  j["attention_resolutions"] = attention_resolutions;
  j["num_heads"] = num_heads;
  j["norm_groups"] = norm_groups;
  j["dropout"] = dropout;
  j["num_classes"] = num_classes;
  j["padding"] = padding_name(padding);
  j["train_resolution"] = train_resolution;
  j["schedule"] = schedule_name(schedule);
  j["timesteps"] = timesteps;
  j["prediction"] = prediction_name(prediction);
  return j.dump();  // nlohmann::json objects keep keys sorted
}

UNetConfig UNetConfig::from_json(const std::string& text, MissingConfigKeys missing_keys) {
  json j = parse_bounded_json(text, "model config", kMaxConfigJsonBytes, /*max_depth=*/2);
  if (!j.is_object()) throw Error("model config: not a JSON object");
  UNetConfig c;
  std::set<std::string> known;  // every key a getter asked for
  std::vector<std::string> missing;
  // The value of `key`, or nullptr when absent (then the default stays, or it is reported).
  auto find = [&](const char* key) -> const json* {
    known.insert(key);
    auto it = j.find(key);
    if (it != j.end()) return &*it;
    missing.push_back(key);
    return nullptr;
  };
  auto get_int = [&](const char* key, int& out) {
    const json* v = find(key);
    if (!v) return;
    if (!v->is_number_integer()) throw Error(std::string("model config: '") + key + "' must be an integer");
    int64_t x = v->get<int64_t>();
    if (x < INT32_MIN || x > INT32_MAX) throw Error(std::string("model config: '") + key + "' is out of range");
    out = static_cast<int>(x);
  };
  auto get_list = [&](const char* key, std::vector<int>& out) {
    const json* v = find(key);
    if (!v) return;
    if (!v->is_array()) throw Error(std::string("model config: '") + key + "' must be a list of integers");
    out.clear();
    for (const json& e : *v) {
      if (!e.is_number_integer() || e.get<int64_t>() < 0 || e.get<int64_t>() > 1 << 20)
        throw Error(std::string("model config: '") + key + "' must be a list of small non-negative integers");
      out.push_back(static_cast<int>(e.get<int64_t>()));
    }
  };
  auto get_enum = [&](const char* key, auto& out, std::initializer_list<const char*> names) {
    const json* v = find(key);
    if (!v) return;
    if (!v->is_string()) throw Error(std::string("model config: '") + key + "' must be a string");
    const std::string& s = v->get_ref<const std::string&>();
    int i = 0;
    std::string allowed;
    for (const char* n : names) {
      if (s == n) {
        out = static_cast<std::remove_reference_t<decltype(out)>>(i);
        return;
      }
      allowed += std::string(i ? ", " : "") + n;
      ++i;
    }
    throw Error(std::string("model config: '") + key + "' is " + quoted(s) + ", expected one of: " + allowed);
  };
  int in_channels = -1, out_channels = -1;  // when absent (a hand-written config): the maps' channels
  get_int("in_channels", in_channels);
  get_int("out_channels", out_channels);
  if (auto it = j.find("maps"); it != j.end()) {  // optional: a model without it is ["albedo"]
    known.insert("maps");
    if (!it->is_array() || it->empty() || it->size() > all_maps().size())
      throw Error("model config: 'maps' must be a non-empty list of map names");
    c.maps.clear();
    for (const json& e : *it) {
      std::optional<MapKind> kind = e.is_string() ? map_from_name(e.get_ref<const std::string&>()) : std::nullopt;
      if (!kind)
        throw Error("model config: 'maps' holds " + quoted(e.dump()) + ", expected map names from: " + all_map_names());
      c.maps.push_back(*kind);
    }
  }
  get_int("base_channels", c.base_channels);
  get_list("channel_mult", c.channel_mult);
  get_int("num_res_blocks", c.num_res_blocks);
  get_list("attention_resolutions", c.attention_resolutions);
  get_int("num_heads", c.num_heads);
  get_int("norm_groups", c.norm_groups);
  if (const json* v = find("dropout")) {
    if (!v->is_number()) throw Error("model config: 'dropout' must be a number");
    c.dropout = v->get<float>();
  }
  get_int("num_classes", c.num_classes);
  get_enum("padding", c.padding, {"zeros", "circular"});
  get_int("train_resolution", c.train_resolution);
  get_enum("schedule", c.schedule, {"linear", "cosine"});
  get_int("timesteps", c.timesteps);
  get_enum("prediction", c.prediction, {"eps", "v"});

  std::vector<std::string> unknown;
  for (const auto& [key, value] : j.items())
    if (!known.count(key)) unknown.push_back(quoted(key));
  if (!unknown.empty())
    throw Error("model config: unknown key" + std::string(unknown.size() > 1 ? "s " : " ") + listed(unknown) +
                " (a misspelt or newer key would otherwise be ignored)");
  if (missing_keys == MissingConfigKeys::Refuse && !missing.empty()) {
    for (std::string& m : missing) m = "'" + m + "'";
    throw Error("model config: missing key" + std::string(missing.size() > 1 ? "s " : " ") + listed(missing) +
                " (a model file gives every key; docs/model-format.md)");
  }
  c.validate();
  if (in_channels < 0) in_channels = c.channels();
  if (out_channels < 0) out_channels = c.channels();
  if (in_channels != c.channels() || out_channels != c.channels())
    throw Error("model config: in_channels " + std::to_string(in_channels) + " and out_channels " +
                std::to_string(out_channels) + " must both be " + std::to_string(c.channels()) +
                ", the channels of maps [" + map_names(c.maps) + "]");
  return c;
}

}  // namespace tessera
