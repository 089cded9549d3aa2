#include "tessera/material_maps.hpp"

#include "tessera/error.hpp"

namespace tessera {

const std::vector<MapSpec>& all_maps() {
  static const std::vector<MapSpec> table{
      {MapKind::Albedo, "albedo", 3, 8},
      // 16 bits: 8-bit height steps make terraced normals at any useful strength.
      {MapKind::Height, "height", 1, 16},
      {MapKind::Roughness, "roughness", 1, 8},
  };
  return table;
}

const MapSpec& map_spec(MapKind kind) { return all_maps().at(static_cast<size_t>(kind)); }

std::optional<MapKind> map_from_name(std::string_view name) {
  for (const MapSpec& m : all_maps())
    if (name == m.name) return m.kind;
  return std::nullopt;
}

std::string map_names(const std::vector<MapKind>& maps, const char* separator) {
  std::string out;
  for (MapKind k : maps) out += (out.empty() ? "" : separator) + std::string(map_spec(k).name);
  return out;
}

std::string all_map_names() {
  std::vector<MapKind> kinds;
  for (const MapSpec& m : all_maps()) kinds.push_back(m.kind);
  return map_names(kinds);
}

int map_channels(const std::vector<MapKind>& maps) {
  int n = 0;
  for (MapKind k : maps) n += map_spec(k).channels;
  return n;
}

int map_channel_offset(const std::vector<MapKind>& maps, MapKind kind) {
  int offset = 0;
  for (MapKind k : maps) {
    if (k == kind) return offset;
    offset += map_spec(k).channels;
  }
  return -1;
}

void check_map_list(const std::vector<MapKind>& maps) {
  if (maps.empty() || maps.front() != MapKind::Albedo)
    throw Error("maps must start with \"albedo\" (got [" + map_names(maps) + "])");
  for (size_t i = 1; i < maps.size(); ++i)
    if (maps[i] <= maps[i - 1]) throw Error("maps must be distinct and in table order (got [" + map_names(maps) + "])");
}

}  // namespace tessera
