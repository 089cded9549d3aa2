#include "tessera/image_io.hpp"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "tessera/atomic_file.hpp"
#include "tessera/error.hpp"

namespace tessera {

PixelImage decode_image(const std::filesystem::path& path) {
  std::string p = path.string();
  PixelImage img;
  int channels = 0;
  img.bits = stbi_is_16_bit(p.c_str()) ? 16 : 8;
  img.samples = {img.bits == 16 ? static_cast<void*>(stbi_load_16(p.c_str(), &img.width, &img.height, &channels, 3))
                                : static_cast<void*>(stbi_load(p.c_str(), &img.width, &img.height, &channels, 3)),
                 stbi_image_free};
  if (!img.samples) throw Error("cannot read image '" + p + "': " + stbi_failure_reason());
  if (img.width <= 0 || img.height <= 0) throw Error("image '" + p + "' is empty");
  return img;
}

Image to_planes(const PixelImage& pixels) {
  Image img;
  img.width = pixels.width;
  img.height = pixels.height;
  img.planes.resize(size_t(3) * img.width * img.height);
  float* out = img.planes.data();
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < img.height; ++y)
      for (int x = 0; x < img.width; ++x) *out++ = pixels.value(c, y, x);
  return img;
}

Image load_image(const std::filesystem::path& path) { return to_planes(decode_image(path)); }

uint8_t unit_to_byte(float x) {
  return std::isnan(x) ? 0 : uint8_t(std::clamp(std::floor((x + 1.0f) * 127.5f + 0.5f), 0.0f, 255.0f));
}

std::vector<uint8_t> planes_to_rgba8(std::span<const float> planes, int width, int height) {
  size_t n = size_t(width) * height;
  if (planes.size() != 3 * n) throw Error("planes_to_rgba8: expected 3 planes of " + std::to_string(n) + " values");
  std::vector<uint8_t> rgba(4 * n);
  for (size_t i = 0; i < n; ++i) {
    for (int c = 0; c < 3; ++c) rgba[4 * i + c] = unit_to_byte(planes[c * n + i]);
    rgba[4 * i + 3] = 255;
  }
  return rgba;
}

void save_png(const std::filesystem::path& path, std::span<const uint8_t> pixels, int width, int height, int channels) {
  if (width <= 0 || height <= 0 || channels < 1 || channels > 4 || pixels.size() != size_t(width) * height * channels)
    throw Error("save_png '" + path.string() + "': pixel buffer does not match " + std::to_string(width) + "x" +
                std::to_string(height));
  std::vector<uint8_t> png;
  auto append = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(context);
    out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
  };
  if (!stbi_write_png_to_func(append, &png, width, height, channels, pixels.data(), width * channels))
    throw Error("cannot encode PNG '" + path.string() + "'");
  write_file_atomically(path, std::as_bytes(std::span(png)));
}

void save_image_grid(const std::filesystem::path& path, std::span<const float> images, int count, int width,
                     int height, int columns) {
  constexpr int gap = 2;
  columns = std::max(1, std::min(columns, count));
  int rows = (count + columns - 1) / columns;
  int gw = columns * width + (columns + 1) * gap, gh = rows * height + (rows + 1) * gap;
  std::vector<uint8_t> grid(size_t(gw) * gh * 4, 0);
  for (size_t i = 3; i < grid.size(); i += 4) grid[i] = 255;
  size_t per = size_t(3) * width * height;
  if (images.size() < per * count) throw Error("save_image_grid: fewer values than " + std::to_string(count) + " images");
  for (int k = 0; k < count; ++k) {
    auto rgba = planes_to_rgba8(images.subspan(per * k, per), width, height);
    int ox = gap + (k % columns) * (width + gap), oy = gap + (k / columns) * (height + gap);
    for (int y = 0; y < height; ++y)
      std::memcpy(&grid[(size_t(oy + y) * gw + ox) * 4], &rgba[size_t(y) * width * 4], size_t(width) * 4);
  }
  save_png(path, grid, gw, gh);
}

}  // namespace tessera
