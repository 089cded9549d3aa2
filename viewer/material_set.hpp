// A material set as the viewer shows it (SPEC §12): one RGBA8 image per map, all the same size,
// in the form tessera.h hands maps out (tsr_job_read_map): albedo RGB as stored (sRGB), height
// and roughness grey in R = G = B, the tangent-space normal as n * 0.5 + 0.5 (OpenGL: +X right,
// +Y up, +Z out). The live path and the file path both end in this one struct, so the panel's
// map selector and the lit preview never care where a material came from:
//   files   load_material_files("dir/stem"): <stem>_albedo.png (required), _height.png (16-bit
//           grey), _roughness.png, _normal.png (each optional) - what `tessera sample` writes
//   live    read_material_maps(): the adapter for tsr_job_read_map (see the note there)
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tessera::viewer {

// The values of tessera.h's tsr_map (TSR_MAP_ALBEDO = 0 ... TSR_MAP_NORMAL = 3), so a map_mask
// from tsr_model_info (bit 1 << map) is read as is.
enum class MapKind : int { Albedo = 0, Height = 1, Roughness = 2, Normal = 3 };
inline constexpr int kMapCount = 4;
inline constexpr const char* kMapNames[kMapCount] = {"albedo", "height", "roughness", "normal"};

struct MaterialSet {
  int width = 0, height = 0;
  uint32_t available = 0;  // bit 1 << MapKind per map the set has
  // Tight RGBA8 rows per map. A map the set lacks still holds pixels for the lit preview: a flat
  // normal (0.5, 0.5, 1) and a mid roughness (0.5), so lighting an albedo-only set is defined.
  std::array<std::vector<uint8_t>, kMapCount> rgba;

  bool has(MapKind m) const { return (available >> int(m)) & 1u; }
  const std::vector<uint8_t>& pixels(MapKind m) const { return rgba[size_t(m)]; }
  std::string map_list() const;  // "albedo, height, ..." of the available maps
};

// An albedo-only set (the generator's result today; recent results).
MaterialSet albedo_only(const std::vector<uint8_t>& rgba, int width, int height);

// Reads the set from <stem>_<map>.png. Throws naming the file: a missing or unreadable albedo, a
// map whose size differs from the albedo's, a height that is not a 16-bit grey PNG.
MaterialSet load_material_files(const std::string& stem);

// Live maps: fills the set from a reader with tsr_job_read_map's shape (map, out, capacity,
// row_pitch), RGBA8, for each bit of map_mask (tsr_model_info.map_mask); the reader throws on a
// failed read. TextureGenerator::read_maps() calls it once the job is done (the x0 preview of a
// running job stays albedo-only: tsr_job_read_map serves finished jobs).
using MapReader = std::function<void(MapKind map, void* out, size_t capacity, uint32_t row_pitch)>;
MaterialSet read_material_maps(int width, int height, uint32_t map_mask, const MapReader& read);

}  // namespace tessera::viewer
