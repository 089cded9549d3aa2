#include "ops/reference/image_convert.hpp"

#include <algorithm>
#include <cmath>

namespace tessera::reference {

uint32_t float_to_byte(double x) {
  if (std::isnan(x)) return 0;
  double v = std::clamp((x + 1.0) * 127.5, 0.0, 255.0);  // exact in double for f32 x
  return static_cast<uint32_t>(std::floor(v + 0.5));
}

std::vector<uint32_t> image_to_rgba8(const std::vector<double>& image, int64_t n, int64_t c, int64_t h, int64_t w) {
  std::vector<uint32_t> out(size_t(n * h * w));
  int64_t plane = h * w;
  for (int64_t s = 0; s < n; ++s)
    for (int64_t p = 0; p < plane; ++p) {
      uint32_t packed = 0;
      for (int64_t ch = 0; ch < 4; ++ch) {
        uint32_t b = ch < c ? float_to_byte(image[(s * c + ch) * plane + p]) : 255u;
        packed |= b << (8 * ch);
      }
      out[s * plane + p] = packed;
    }
  return out;
}

std::vector<double> image_from_rgba8(const std::vector<uint32_t>& rgba, int64_t n, int64_t c, int64_t h, int64_t w) {
  std::vector<double> out(size_t(n * c * h * w));
  int64_t plane = h * w;
  for (int64_t s = 0; s < n; ++s)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < plane; ++p)
        out[(s * c + ch) * plane + p] = double((rgba[s * plane + p] >> (8 * ch)) & 0xffu) / 127.5 - 1.0;
  return out;
}

}  // namespace tessera::reference
