#include "tessera/material_images.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "tessera/atomic_file.hpp"
#include "tessera/crc32.hpp"
#include "tessera/error.hpp"
#include "tessera/image_io.hpp"

// Debian's libstb exports stb_image_write's deflate, which its header declares only inside the
// implementation; stb's PNG writer itself has no 16-bit mode.
extern "C" unsigned char* stbi_zlib_compress(unsigned char* data, int data_len, int* out_len, int quality);

namespace tessera {

std::vector<float> map_planes(std::span<const float> images, int index, int height, int width,
                              const std::vector<MapKind>& maps, MapKind kind) {
  const int offset = map_channel_offset(maps, kind);
  if (offset < 0)
    throw Error(std::string("this model has no ") + map_spec(kind).name + " map (its maps: " + map_names(maps) + ")");
  const size_t plane = size_t(height) * width;
  const size_t first = (size_t(index) * map_channels(maps) + offset) * plane;
  const size_t count = size_t(map_spec(kind).channels) * plane;
  if (images.size() < first + count)
    throw Error("map_planes: the batch holds fewer values than sample " + std::to_string(index));
  return {images.begin() + first, images.begin() + first + count};
}

std::vector<float> maps_side_by_side(std::span<const float> images, int count, int height, int width,
                                     const std::vector<MapKind>& maps) {
  const size_t plane = size_t(height) * width;
  std::vector<float> out;
  out.reserve(size_t(count) * maps.size() * 3 * plane);
  for (int k = 0; k < count; ++k)
    for (MapKind kind : maps) {
      std::vector<float> p = map_planes(images, k, height, width, maps, kind);
      for (int c = 0; c < 3; ++c) {
        auto from = p.begin() + (map_spec(kind).channels == 3 ? c * plane : 0);  // grey: the one plane 3 times
        out.insert(out.end(), from, from + plane);
      }
    }
  return out;
}

namespace {

void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(v >> s));
}

void put_chunk(std::vector<uint8_t>& png, const char type[4], std::span<const uint8_t> data) {
  put_be32(png, uint32_t(data.size()));
  const size_t start = png.size();
  png.insert(png.end(), type, type + 4);
  png.insert(png.end(), data.begin(), data.end());
  put_be32(png, crc32(std::as_bytes(std::span(png).subspan(start))));
}

}  // namespace

void save_png_gray16(const std::filesystem::path& path, std::span<const uint16_t> values, int width, int height) {
  if (width <= 0 || height <= 0 || values.size() != size_t(width) * height)
    throw Error("save_png_gray16 '" + path.string() + "': values do not match " + std::to_string(width) + "x" +
                std::to_string(height));
  std::vector<uint8_t> rows;  // filter type 0 (none) per row, then big-endian samples
  rows.reserve(size_t(height) * (1 + 2 * size_t(width)));
  for (int y = 0; y < height; ++y) {
    rows.push_back(0);
    for (int x = 0; x < width; ++x) {
      uint16_t v = values[size_t(y) * width + x];
      rows.push_back(uint8_t(v >> 8));
      rows.push_back(uint8_t(v));
    }
  }
  int zlen = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> z(stbi_zlib_compress(rows.data(), int(rows.size()), &zlen, 8),
                                                    std::free);
  if (!z) throw Error("cannot encode PNG '" + path.string() + "'");
  std::vector<uint8_t> png{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<uint8_t> header;
  put_be32(header, uint32_t(width));
  put_be32(header, uint32_t(height));
  header.insert(header.end(), {16, 0, 0, 0, 0});  // 16 bits, grey, deflate, adaptive filters, no interlace
  put_chunk(png, "IHDR", header);
  put_chunk(png, "IDAT", {z.get(), size_t(zlen)});
  put_chunk(png, "IEND", {});
  write_file_atomically(path, std::as_bytes(std::span(png)));
}

std::vector<uint8_t> map_file_samples(std::span<const float> planes, int width, int height, MapKind kind) {
  const size_t n = size_t(width) * height;
  const MapSpec& spec = map_spec(kind);
  if (width <= 0 || height <= 0 || planes.size() != spec.channels * n)
    throw Error(std::string("the ") + spec.name + " map: expected " + std::to_string(spec.channels) + " planes of " +
                std::to_string(width) + "x" + std::to_string(height) + " values, got " +
                std::to_string(planes.size()) + " values");
  std::vector<uint8_t> samples;
  if (spec.file_bits == 16) {
    samples.reserve(2 * n);
    for (size_t i = 0; i < n; ++i) {
      const float x = std::isnan(planes[i]) ? -1.0f : planes[i];
      const auto v = uint16_t(std::clamp(std::floor((x + 1.0f) * 32767.5f + 0.5f), 0.0f, 65535.0f));
      samples.push_back(uint8_t(v >> 8));
      samples.push_back(uint8_t(v));
    }
    return samples;
  }
  samples.resize(spec.channels * n);  // interleaved RGB, or grey
  for (size_t i = 0; i < n; ++i)
    for (int c = 0; c < spec.channels; ++c) samples[spec.channels * i + c] = unit_to_byte(planes[c * n + i]);
  return samples;
}

void save_map_png(const std::filesystem::path& path, std::span<const float> planes, int width, int height,
                  MapKind kind) {
  std::vector<uint8_t> samples;
  try {
    samples = map_file_samples(planes, width, height, kind);
  } catch (const Error& e) {
    throw Error("save_map_png '" + path.string() + "': " + e.what());
  }
  const MapSpec& spec = map_spec(kind);
  if (spec.file_bits != 16) return save_png(path, samples, width, height, spec.channels);
  std::vector<uint16_t> values(samples.size() / 2);
  for (size_t i = 0; i < values.size(); ++i) values[i] = uint16_t(samples[2 * i] << 8 | samples[2 * i + 1]);
  save_png_gray16(path, values, width, height);
}

}  // namespace tessera
