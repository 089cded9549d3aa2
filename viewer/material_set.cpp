#include "material_set.hpp"

#include <stb/stb_image.h>  // implementation in Debian's libstb

#include <filesystem>
#include <memory>
#include <stdexcept>

namespace tessera::viewer {

namespace {

// What a lit preview assumes where a map is missing (see MaterialSet::rgba).
constexpr uint8_t kFlatNormal[4] = {128, 128, 255, 255};
constexpr uint8_t kMidRoughness[4] = {128, 128, 128, 255};

std::vector<uint8_t> filled(int width, int height, const uint8_t (&texel)[4]) {
  std::vector<uint8_t> rgba(size_t(width) * height * 4);
  for (size_t i = 0; i < rgba.size(); i += 4)
    for (int c = 0; c < 4; ++c) rgba[i + c] = texel[c];
  return rgba;
}

// The lighting defaults for every map the set lacks.
void fill_missing(MaterialSet& set) {
  for (MapKind m : {MapKind::Height, MapKind::Roughness, MapKind::Normal})
    if (!set.has(m))
      set.rgba[size_t(m)] = filled(set.width, set.height, m == MapKind::Normal ? kFlatNormal : kMidRoughness);
}

using StbPixels = std::unique_ptr<void, void (*)(void*)>;

std::string map_path(const std::string& stem, MapKind m) { return stem + "_" + kMapNames[int(m)] + ".png"; }

// One map file as RGBA8; a 16-bit height keeps its top 8 bits (only for showing it).
std::vector<uint8_t> load_map(const std::string& path, MapKind m, int& width, int& height) {
  int channels = 0;
  if (!stbi_info(path.c_str(), &width, &height, &channels))
    throw std::runtime_error("cannot read " + path + ": " + stbi_failure_reason());
  const bool is16 = stbi_is_16_bit(path.c_str());
  if (m == MapKind::Height && !is16)
    throw std::runtime_error(path + ": a height map is a 16-bit grey PNG (SPEC §12); this file is not 16-bit");
  std::vector<uint8_t> rgba;
  if (is16) {
    StbPixels data(stbi_load_16(path.c_str(), &width, &height, &channels, 4), stbi_image_free);
    if (!data) throw std::runtime_error("cannot read " + path + ": " + stbi_failure_reason());
    const auto* v = static_cast<const uint16_t*>(data.get());
    rgba.resize(size_t(width) * height * 4);
    for (size_t i = 0; i < rgba.size(); ++i) rgba[i] = uint8_t((uint32_t(v[i]) * 255 + 32767) / 65535);
  } else {
    StbPixels data(stbi_load(path.c_str(), &width, &height, &channels, 4), stbi_image_free);
    if (!data) throw std::runtime_error("cannot read " + path + ": " + stbi_failure_reason());
    const auto* p = static_cast<const uint8_t*>(data.get());
    rgba.assign(p, p + size_t(width) * height * 4);
  }
  return rgba;
}

}  // namespace

std::string MaterialSet::map_list() const {
  std::string list;
  for (int m = 0; m < kMapCount; ++m)
    if (has(MapKind(m))) list += (list.empty() ? "" : ", ") + std::string(kMapNames[m]);
  return list;
}

MaterialSet albedo_only(const std::vector<uint8_t>& rgba, int width, int height) {
  MaterialSet set;
  set.width = width;
  set.height = height;
  set.available = 1u << int(MapKind::Albedo);
  set.rgba[size_t(MapKind::Albedo)] = rgba;
  fill_missing(set);
  return set;
}

MaterialSet load_material_files(const std::string& stem) {
  MaterialSet set;
  const std::string albedo = map_path(stem, MapKind::Albedo);
  if (!std::filesystem::exists(albedo))
    throw std::runtime_error("--material " + stem + ": no albedo file " + albedo +
                             " (a material set is <stem>_albedo.png plus optional _height, _roughness, _normal)");
  set.rgba[0] = load_map(albedo, MapKind::Albedo, set.width, set.height);
  set.available = 1u;
  for (MapKind m : {MapKind::Height, MapKind::Roughness, MapKind::Normal}) {
    const std::string path = map_path(stem, m);
    if (!std::filesystem::exists(path)) continue;  // optional: the selector offers what is there
    int w = 0, h = 0;
    set.rgba[size_t(m)] = load_map(path, m, w, h);
    if (w != set.width || h != set.height)
      throw std::runtime_error(path + " is " + std::to_string(w) + "x" + std::to_string(h) + ", the albedo " +
                               std::to_string(set.width) + "x" + std::to_string(set.height) +
                               ": the maps of a set have one size");
    set.available |= 1u << int(m);
  }
  fill_missing(set);
  return set;
}

MaterialSet read_material_maps(int width, int height, uint32_t map_mask, const MapReader& read) {
  MaterialSet set;
  set.width = width;
  set.height = height;
  set.available = map_mask & ((1u << kMapCount) - 1);
  const uint32_t pitch = uint32_t(width) * 4;
  for (int m = 0; m < kMapCount; ++m) {
    if (!set.has(MapKind(m))) continue;
    set.rgba[m].resize(size_t(pitch) * height);
    read(MapKind(m), set.rgba[m].data(), set.rgba[m].size(), pitch);
  }
  if (!set.has(MapKind::Albedo))
    throw std::runtime_error("the model reports no albedo map (map_mask " + std::to_string(map_mask) + ")");
  fill_missing(set);
  return set;
}

}  // namespace tessera::viewer
