// Image files: PNG/JPEG in (8- or 16-bit, gray/RGB/RGBA, via stb_image), PNG out (RGBA8),
// written atomically (tessera/atomic_file.hpp). In memory, images are planar float RGB [3, H, W] in [-1, 1], the
// model's layout.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace tessera {

struct Image {
  int width = 0, height = 0;
  std::vector<float> planes;  // [3][height][width], values in [-1, 1]
};

// Throws tessera::Error naming the file and the decoder's reason.
Image load_image(const std::filesystem::path& path);

// RGBA8 pixels (row-major, 4 bytes per pixel) from planar float images [C, H, W] (C = 3).
std::vector<uint8_t> planes_to_rgba8(std::span<const float> planes, int width, int height);

// Writes an RGBA8 PNG atomically (temp file in the same folder, then rename): on failure the
// temp file is removed, any existing file is left untouched, and tessera::Error names the path.
void save_png(const std::filesystem::path& path, std::span<const uint8_t> rgba, int width, int height);

// Tiles N planar images [N, 3, H, W] into a grid of `columns` with 2-pixel dark gaps.
void save_image_grid(const std::filesystem::path& path, std::span<const float> images, int count, int width,
                     int height, int columns);

}  // namespace tessera
