// What the portable-mode tests share: a scope that sets the shared test context's arithmetic,
// and the report of where a device result and the oracle's differ bit for bit.
#pragma once

#include <algorithm>
#include <bit>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

#include "tessera/context.hpp"

namespace tessera::testing {

// Sets a context's mode (portable or fast) for one scope and restores the previous one.
class PortableModeScope {
 public:
  PortableModeScope(Context& ctx, bool portable) : ctx_(ctx), saved_(ctx.portable()) { ctx.set_portable(portable); }
  ~PortableModeScope() { ctx_.set_portable(saved_); }
  PortableModeScope(const PortableModeScope&) = delete;
  PortableModeScope& operator=(const PortableModeScope&) = delete;

 private:
  Context& ctx_;
  bool saved_;
};

// "" when every element of `got` has the bits of `want` (same length); else how many differ,
// the first one (index, both values in hex float) and the largest distance in ulps.
inline std::string bit_differences(std::span<const float> got, std::span<const float> want) {
  if (got.size() != want.size())
    return "element counts differ: " + std::to_string(got.size()) + " vs " + std::to_string(want.size());
  size_t differ = 0, first = 0;
  int64_t max_ulps = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const auto g = std::bit_cast<int32_t>(got[i]), w = std::bit_cast<int32_t>(want[i]);
    if (g == w) continue;
    if (differ++ == 0) first = i;
    // Distance on the ordered integer line of floats (sign-magnitude to two's complement).
    auto ordered = [](int32_t b) { return b < 0 ? int64_t(INT32_MIN) - b : int64_t(b); };
    max_ulps = std::max(max_ulps, std::abs(ordered(g) - ordered(w)));
  }
  if (differ == 0) return "";
  char text[200];
  std::snprintf(text, sizeof text,
                "%zu of %zu values differ; first at %zu: device %a, oracle %a; largest difference %lld ulp", differ,
                got.size(), first, double(got[first]), double(want[first]), static_cast<long long>(max_ulps));
  return text;
}

}  // namespace tessera::testing
