#include "ops/reference/normal_map.hpp"

#include <cmath>

namespace tessera::reference {

std::vector<double> normal_map_from_height(const std::vector<double>& height, int64_t n, int64_t h, int64_t w,
                                           double strength, bool directx) {
  const int64_t plane = h * w;
  std::vector<double> out(size_t(n * 3 * plane));
  for (int64_t s = 0; s < n; ++s) {
    auto texels = [&](int64_t row, int64_t col) {
      row = (row + h) % h;
      col = (col + w) % w;
      return (height[s * plane + row * w + col] + 1.0) / 2.0 * strength;
    };
    for (int64_t row = 0; row < h; ++row)
      for (int64_t col = 0; col < w; ++col) {
        double p = (texels(row, col + 1) - texels(row, col - 1)) / 2.0;
        double q = (texels(row + 1, col) - texels(row - 1, col)) / 2.0;
        double y = directx ? -q : q;
        double length = std::sqrt(p * p + y * y + 1.0);
        double* o = &out[size_t(s * 3 * plane + row * w + col)];
        o[0] = -p / length;
        o[plane] = y / length;
        o[2 * plane] = 1.0 / length;
      }
  }
  return out;
}

}  // namespace tessera::reference
