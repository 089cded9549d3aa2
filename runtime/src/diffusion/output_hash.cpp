#include "tessera/output_hash.hpp"

#include <bit>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "tessera/error.hpp"
#include "tessera/image_io.hpp"
#include "tessera/material_images.hpp"

namespace tessera {

namespace {

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr uint64_t kFnvPrime = 0x100000001b3ull;

uint64_t fnv_add(uint64_t h, uint8_t byte) { return (h ^ byte) * kFnvPrime; }

// A number field of a row, whole text only; nullopt-like failure reported by the caller.
template <typename T>
bool parse_number(std::string_view text, T& value, int base = 10) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  return !text.empty() && error == std::errc() && end == text.data() + text.size();
}

}  // namespace

uint64_t fnv1a64(std::span<const uint8_t> bytes) {
  uint64_t h = kFnvOffset;
  for (uint8_t b : bytes) h = fnv_add(h, b);
  return h;
}

uint64_t f32_hash(std::span<const float> values) {
  uint64_t h = kFnvOffset;
  for (float v : values) {
    const uint32_t bits = std::bit_cast<uint32_t>(v);
    for (int k = 0; k < 4; ++k) h = fnv_add(h, uint8_t(bits >> (8 * k)));  // little-endian
  }
  return h;
}

std::string hash_hex(uint64_t hash) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

std::string format_hash_row(const HashRow& row) {
  const HashCase& g = row.generation;
  std::ostringstream out;
  out << g.model << ' ' << g.class_name << ' ' << g.seed << ' ' << g.width << 'x' << g.height << ' '
      << to_string(g.sampler) << ' ' << g.steps << ' ' << g.guidance << ' ' << hash_hex(row.f32) << ' '
      << hash_hex(row.pixels);
  return out.str();
}

HashRow parse_hash_row(std::string_view line, const std::string& source, int line_number) {
  std::vector<std::string> fields;
  std::istringstream in{std::string(line)};
  for (std::string f; in >> f;) fields.push_back(f);
  const std::string where = source + ":" + std::to_string(line_number) + ": ";
  constexpr const char* kColumns = "model class seed WxH sampler steps guidance f32_hash pixels_hash";
  if (fields.size() != 9)
    throw Error(where + "expected 9 fields (" + kColumns + "), found " + std::to_string(fields.size()));
  auto bad = [&](const char* field, const std::string& text) {
    return Error(where + field + " '" + text.substr(0, 40) + "' is not valid (columns: " + kColumns + ")");
  };
  HashRow row;
  HashCase& g = row.generation;
  g.model = fields[0];
  g.class_name = fields[1];
  if (!parse_number(fields[2], g.seed)) throw bad("seed", fields[2]);
  const size_t x = fields[3].find('x');
  if (x == std::string::npos || !parse_number(std::string_view(fields[3]).substr(0, x), g.width) ||
      !parse_number(std::string_view(fields[3]).substr(x + 1), g.height) || g.width < 1 || g.height < 1)
    throw bad("size", fields[3]);
  auto kind = parse_sampler_kind(fields[4]);
  if (!kind) throw bad("sampler", fields[4]);
  g.sampler = *kind;
  if (!parse_number(fields[5], g.steps) || g.steps < 1) throw bad("steps", fields[5]);
  char* end = nullptr;
  g.guidance = std::strtod(fields[6].c_str(), &end);
  if (fields[6].empty() || *end != '\0') throw bad("guidance", fields[6]);
  if (fields[7].size() != 16 || !parse_number(fields[7], row.f32, 16)) throw bad("f32_hash", fields[7]);
  if (fields[8].size() != 16 || !parse_number(fields[8], row.pixels, 16)) throw bad("pixels_hash", fields[8]);
  return row;
}

std::vector<HashRow> read_hash_table(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error("hash table " + path.string() + ": cannot open");
  std::vector<HashRow> rows;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    rows.push_back(parse_hash_row(line, path.string(), number));
  }
  if (rows.empty()) throw Error("hash table " + path.string() + ": no rows");
  return rows;
}

GenerationRequest hash_case_request(const HashCase& generation, const ModelInfo& model) {
  GenerationRequest request;
  request.options.kind = generation.sampler;
  request.options.steps = generation.steps;
  request.options.guidance = generation.guidance;
  request.width = generation.width;
  request.height = generation.height;
  request.seed = generation.seed;
  try {
    request.label = resolve_class(model, generation.class_name);
  } catch (const Error& e) {
    throw Error("class: " + std::string(e.what()));
  }
  request.validate(model);
  return request;
}

HashRow hash_image(const HashCase& generation, std::span<const float> image, const std::vector<MapKind>& maps) {
  const int w = generation.width, h = generation.height;
  const size_t expected = size_t(map_channels(maps)) * w * h;
  if (image.size() != expected)
    throw Error("hash_image: a " + std::to_string(w) + "x" + std::to_string(h) + " image of maps " + map_names(maps) +
                " has " + std::to_string(expected) + " values, got " + std::to_string(image.size()));
  // What the PNGs hold: a colour-only model's RGBA8 image, or each map's file samples in turn.
  std::vector<uint8_t> pixels;
  if (maps == std::vector<MapKind>{MapKind::Albedo}) {
    pixels = planes_to_rgba8(image, w, h);
  } else {
    for (MapKind kind : maps) {
      const std::vector<uint8_t> samples = map_file_samples(map_planes(image, 0, h, w, maps, kind), w, h, kind);
      pixels.insert(pixels.end(), samples.begin(), samples.end());
    }
  }
  return {generation, f32_hash(image), fnv1a64(pixels)};
}

}  // namespace tessera
