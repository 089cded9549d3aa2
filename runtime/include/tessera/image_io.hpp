// Image files: PNG/JPEG in (8- or 16-bit, gray/RGB/RGBA, via stb_image), PNG out (RGBA8),
// written atomically (tessera/atomic_file.hpp). In memory, images are planar float RGB [3, H, W] in [-1, 1], the
// model's layout, or, where many are held (training data), the decoded 8- or 16-bit samples
// (PixelImage), a quarter or half of that memory, converted to floats where they are read.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace tessera {

struct Image {
  int width = 0, height = 0;
  std::vector<float> planes;  // [3][height][width], values in [-1, 1]
};

// An image as decoded: interleaved RGB samples of 8 or 16 bits, held in stb_image's own
// buffer (an 8000x8000 8-bit image holds 192 MB, where its Image holds 768 MB).
struct PixelImage {
  int width = 0, height = 0;
  int bits = 8;  // 8 or 16
  std::unique_ptr<void, void (*)(void*)> samples{nullptr, nullptr};

  // Channel c of pixel (x, y) in [-1, 1]: exactly the value load_image() gives.
  float value(int c, int y, int x) const {
    size_t i = (size_t(y) * width + x) * 3 + c;
    return bits == 8 ? static_cast<const uint8_t*>(samples.get())[i] / 127.5f - 1.0f
                     : static_cast<const uint16_t*>(samples.get())[i] / 32767.5f - 1.0f;
  }
  size_t bytes() const { return size_t(width) * height * 3 * (bits / 8); }
};

// Throw tessera::Error naming the file and the decoder's reason.
PixelImage decode_image(const std::filesystem::path& path);
Image load_image(const std::filesystem::path& path);
Image to_planes(const PixelImage& pixels);

// The one 8-bit encoding of a value in [-1, 1]: clamp(floor((x + 1) * 127.5 + 0.5), 0, 255) in
// f32, each operation rounded once (the runtime builds with -ffp-contract=off), NaN -> 0. PNGs,
// the C API's images and the portable hashes all use it, so it is part of the portable contract
// (docs/portable.md).
uint8_t unit_to_byte(float x);

// RGBA8 pixels (row-major, 4 bytes per pixel, unit_to_byte, alpha 255) from planar float images
// [C, H, W] (C = 3) in [-1, 1].
std::vector<uint8_t> planes_to_rgba8(std::span<const float> planes, int width, int height);

// Writes an 8-bit PNG of interleaved pixels (4 channels RGBA, 3 RGB, 1 grey) atomically (temp
// file in the same folder, then rename): on failure the temp file is removed, any existing file
// is left untouched, and tessera::Error names the path.
void save_png(const std::filesystem::path& path, std::span<const uint8_t> pixels, int width, int height,
              int channels = 4);

// Tiles N planar images [N, 3, H, W] into a grid of `columns` with 2-pixel dark gaps.
void save_image_grid(const std::filesystem::path& path, std::span<const float> images, int count, int width,
                     int height, int columns);

}  // namespace tessera
