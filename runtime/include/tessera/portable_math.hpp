// C++ twin of the portable-mode shader arithmetic (docs/portable.md): the same functions, from
// the same source (shaders/include/portable_math.h), rounding exactly like the kernels built
// with PORTABLE=1. For the test oracle and host code that must match the GPU bit for bit.
//
// Requirements on the including translation unit: IEEE binary32 floats with round-to-nearest-even
// (the default; do not change the rounding mode), no flush-to-zero / denormals-are-zero, and no
// contraction into fused multiply-add (-ffp-contract=off: tessera_runtime sets it as a PUBLIC
// compile option, so every target linking it inherits it).
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

namespace tessera::portable {

using uint = std::uint32_t;
inline float uintBitsToFloat(uint bits) { return std::bit_cast<float>(bits); }
inline uint floatBitsToUint(float value) { return std::bit_cast<uint>(value); }
// Round half to even: nearbyint under the default rounding mode.
inline float roundEven(float x) { return std::nearbyint(x); }
inline float pm_abs(float x) { return std::fabs(x); }

#include "../../../shaders/include/portable_math.h"

// The names the oracle and the tests use.
inline float flush(float x) { return pm_flush(x); }
inline float add(float a, float b) { return pm_add(a, b); }
inline float sub(float a, float b) { return pm_sub(a, b); }
inline float mul(float a, float b) { return pm_mul(a, b); }
inline float mad(float a, float b, float c) { return pm_mad(a, b, c); }
inline float neg(float a) { return pm_neg(a); }
inline float recip(float x) { return pm_recip(x); }
inline float rsqrt(float x) { return pm_rsqrt(x); }
inline float exp(float x) { return pm_exp(x); }
inline float sigmoid(float x) { return pm_sigmoid(x); }
inline float silu(float x) { return pm_silu(x); }
inline float sin_cos_of_product(float t, float freq_hi, float freq_lo, bool is_sin) {
  return pm_sin_cos_of_product(t, freq_hi, freq_lo, is_sin);
}

}  // namespace tessera::portable
