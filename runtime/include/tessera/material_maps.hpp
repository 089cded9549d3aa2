// The maps a model's channels carry (SPEC §12). This table is the one place that knows them:
// the config parser, the data loader, the CLI's file names and the C API's map queries all
// read it, so a new map is one row in material_maps.cpp.
//
// Every map is held in the model as channels in [-1, 1], the stored file value v in [0, max]
// mapped linearly (v / max * 2 - 1): albedo is sRGB colour as stored, height a scalar field in
// [0, 1] per source texture, roughness in [0, 1] with 0 mirror-smooth. Normals are not a
// channel: they are derived from the height on the device (ops/normal_map).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tessera {

enum class MapKind : uint8_t { Albedo, Height, Roughness };

struct MapSpec {
  MapKind kind;
  const char* name;  // in model configs and file names: <stem>_<name>.png
  int channels;      // 3 (colour) or 1 (scalar)
  int file_bits;     // bits per sample of the PNG it is stored in (8 or 16)
};

const MapSpec& map_spec(MapKind kind);
const std::vector<MapSpec>& all_maps();  // in channel order of a model that has them all
std::optional<MapKind> map_from_name(std::string_view name);

// "albedo, height, roughness"
std::string map_names(const std::vector<MapKind>& maps, const char* separator = ", ");
std::string all_map_names();  // every map of the table, "albedo, height, roughness"
// Total channels of a model that carries `maps`, and where map `kind` starts (-1: absent).
int map_channels(const std::vector<MapKind>& maps);
int map_channel_offset(const std::vector<MapKind>& maps, MapKind kind);

// Throws tessera::Error when the list is empty, repeats a map, does not start with albedo or
// is out of the table's order (a model's channels are always in that order).
void check_map_list(const std::vector<MapKind>& maps);

}  // namespace tessera
