// CPU reference of the float <-> RGBA8 image conversions.
#pragma once
#include <cstdint>
#include <cstddef>
#include <vector>

namespace tessera::reference {

// round-half-up((x + 1) * 127.5), clamped to [0, 255], computed exactly in double.
uint32_t float_to_byte(double x);
// image [N, C, H, W] (C = 3 or 4) -> packed [N, H, W], R in the low byte, alpha 255 for C = 3.
std::vector<uint32_t> image_to_rgba8(const std::vector<double>& image, int64_t n, int64_t c, int64_t h, int64_t w);
std::vector<double> image_from_rgba8(const std::vector<uint32_t>& rgba, int64_t n, int64_t c, int64_t h, int64_t w);

}  // namespace tessera::reference
