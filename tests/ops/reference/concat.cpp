#include "ops/reference/concat.hpp"

namespace tessera::reference {

std::vector<double> concat_channels(const std::vector<double>& a, const std::vector<double>& b, int64_t n, int64_t ca,
                                    int64_t cb, int64_t hw) {
  std::vector<double> out;
  out.reserve(a.size() + b.size());
  for (int64_t s = 0; s < n; ++s) {
    out.insert(out.end(), a.begin() + s * ca * hw, a.begin() + (s + 1) * ca * hw);
    out.insert(out.end(), b.begin() + s * cb * hw, b.begin() + (s + 1) * cb * hw);
  }
  return out;
}

std::vector<double> slice_channels(const std::vector<double>& t, int64_t n, int64_t channels, int64_t first,
                                   int64_t count, int64_t hw) {
  std::vector<double> out;
  out.reserve(n * count * hw);
  for (int64_t s = 0; s < n; ++s) {
    auto begin = t.begin() + (s * channels + first) * hw;
    out.insert(out.end(), begin, begin + count * hw);
  }
  return out;
}

}  // namespace tessera::reference
