// A material batch [N, C, H, W] (C = the model's channels, SPEC §12) as images: one map of one
// sample, the maps side by side for grids, and each map in the PNG form the data uses
// (albedo RGB 8-bit, height grey 16-bit, roughness grey 8-bit). The value mapping is the
// table's (tessera/material_maps.hpp): file value v in [0, max] <-> v / max * 2 - 1.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "tessera/material_maps.hpp"

namespace tessera {

// The planes of map `kind` of sample `index`: [channels(kind), H, W]. Throws Error when the
// model does not carry that map (naming the maps it has).
std::vector<float> map_planes(std::span<const float> images, int index, int height, int width,
                              const std::vector<MapKind>& maps, MapKind kind);

// Every sample's maps as RGB images [count * maps.size(), 3, H, W], a sample's maps next to
// each other (a scalar map shown grey), for save_image_grid with `maps.size()` times the columns.
std::vector<float> maps_side_by_side(std::span<const float> images, int count, int height, int width,
                                     const std::vector<MapKind>& maps);

// The samples of one map [channels, H, W] of values in [-1, 1] as its PNG stores them,
// row-major: 8-bit channels interleaved (unit_to_byte), or for a 16-bit map each sample
// round-half-up((x + 1) * 32767.5) big-endian (NaN -> 0). Throws Error naming the map when
// planes has another size.
std::vector<uint8_t> map_file_samples(std::span<const float> planes, int width, int height, MapKind kind);

// Writes one map [channels, H, W] of values in [-1, 1] as the PNG the data stores it in
// (map_file_samples), atomically (save_png's rules).
void save_map_png(const std::filesystem::path& path, std::span<const float> planes, int width, int height,
                  MapKind kind);

// A 16-bit grey PNG (big-endian samples, zlib from libstb), written atomically.
void save_png_gray16(const std::filesystem::path& path, std::span<const uint16_t> values, int width, int height);

}  // namespace tessera
