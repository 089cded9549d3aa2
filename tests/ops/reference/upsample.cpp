#include "ops/reference/upsample.hpp"

namespace tessera::reference {

std::vector<double> upsample_nearest2x_forward(const std::vector<double>& x, int64_t n, int64_t c, int64_t h,
                                               int64_t w) {
  std::vector<double> y(x.size() * 4);
  for (int64_t plane = 0; plane < n * c; ++plane)
    for (int64_t oy = 0; oy < 2 * h; ++oy)
      for (int64_t ox = 0; ox < 2 * w; ++ox) y[(plane * 2 * h + oy) * 2 * w + ox] = x[(plane * h + oy / 2) * w + ox / 2];
  return y;
}

std::vector<double> upsample_nearest2x_backward(const std::vector<double>& dy, int64_t n, int64_t c, int64_t h,
                                                int64_t w) {
  std::vector<double> dx(dy.size() / 4, 0.0);
  for (int64_t plane = 0; plane < n * c; ++plane)
    for (int64_t oy = 0; oy < 2 * h; ++oy)
      for (int64_t ox = 0; ox < 2 * w; ++ox) dx[(plane * h + oy / 2) * w + ox / 2] += dy[(plane * 2 * h + oy) * 2 * w + ox];
  return dx;
}

}  // namespace tessera::reference
