// CPU twin of shaders/include/philox.glsl. Every float expression here must round exactly as
// the shader's: same operations, same order, one rounding each. This file is compiled with
// -ffp-contract=off (CMakeLists.txt) so a*b+c is never fused; x86-64 evaluates float in float
// (SSE, FLT_EVAL_METHOD 0). Keep the two files in step: tests/runtime/test_rng.cpp compares
// them bit for bit.
#include "tessera/rng.hpp"

#include <bit>

namespace tessera::rng {
namespace {

constexpr uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u;  // golden ratio
constexpr uint32_t kWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1

// Coefficients from tools/fit_rng_polynomials.py, lowest degree first.
// ln(1+f) = f * P(f), f in [sqrt(1/2)-1, sqrt(2)-1].
constexpr float kLogP[] = {1.0f,         -0.499999881f, 0.333333254f, -0.250015855f, 0.200019866f,
                           -0.166089937f, 0.141815305f,  -0.132434592f, 0.12906605f,   -0.07623294f};
// sin(pi/4 t) = t * S(t^2), cos(pi/4 t) = C(t^2), t in [0, 1].
constexpr float kSinS[] = {0.785398185f, -0.0807454363f, 0.00249000103f, -3.59504775e-05f};
constexpr float kCosC[] = {1.0f, -0.308425128f, 0.0158543233f, -0.000325936504f, 3.52876327e-06f};
// ln 2 split so that e * kLn2Hi is exact for |e| < 2^8 (kLn2Hi has 16 significant bits).
constexpr float kLn2Hi = 0.693145752f;     // 0x3F317200
constexpr float kLn2Lo = 1.42860677e-06f;  // ln 2 - kLn2Hi
constexpr float kTwoPow23Inv = 1.0f / 8388608.0f;
constexpr float kTwoPow22Inv = 1.0f / 4194304.0f;

template <size_t N>
float horner(const float (&c)[N], float x) {
  float acc = c[N - 1];
  for (size_t k = N - 1; k-- > 0;) acc = acc * x + c[k];
  return acc;
}

}  // namespace

PhiloxCounter philox4x32_10(PhiloxCounter c, PhiloxKey k) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k[0] += kWeyl0;
      k[1] += kWeyl1;
    }
    const uint64_t p0 = uint64_t(kPhiloxM0) * c[0];
    const uint64_t p1 = uint64_t(kPhiloxM1) * c[2];
    c = {uint32_t(p1 >> 32) ^ c[1] ^ k[0], uint32_t(p1), uint32_t(p0 >> 32) ^ c[3] ^ k[1], uint32_t(p0)};
  }
  return c;
}

PhiloxCounter philox_block(uint64_t seed, uint32_t stream, uint64_t block) {
  return philox4x32_10({uint32_t(block), uint32_t(block >> 32), stream, 0u}, {uint32_t(seed), uint32_t(seed >> 32)});
}

std::array<uint32_t, 3> key_words(uint64_t seed, uint32_t stream) {
  return {uint32_t(seed), uint32_t(seed >> 32), stream};
}

namespace exact_math {

float log_positive(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const uint32_t mantissa = bits & 0x7FFFFFu;
  // Mantissas from sqrt(2) up are halved so m lies in [sqrt(1/2), sqrt(2)]: f = m - 1 stays
  // small on both sides and the polynomial keeps its relative accuracy near x = 1.
  const bool halve = mantissa >= 0x3504F4u;
  const int exponent = int(bits >> 23) - 127 + (halve ? 1 : 0);
  const float m = std::bit_cast<float>(mantissa | (halve ? 0x3F000000u : 0x3F800000u));
  const float f = m - 1.0f;  // exact (Sterbenz)
  const float e = float(exponent);
  return f * horner(kLogP, f) + e * kLn2Lo + e * kLn2Hi;
}

float sqrt_positive(float x) {
  // Reciprocal square root from the exponent-halving bit trick (3.4% error), three Newton
  // steps (error 1.5 e^2 each: 1.8e-3, 4.6e-6, ~1 ulp), then one Heron correction of x * y.
  float y = std::bit_cast<float>(0x5F3759DFu - (std::bit_cast<uint32_t>(x) >> 1));
  const float half_x = 0.5f * x;
  for (int i = 0; i < 3; ++i) y = y * (1.5f - half_x * y * y);
  const float s = x * y;
  return s + (x - s * s) * (0.5f * y);
}

std::array<float, 2> sincos_turns24(uint32_t angle24) {
  // Octant from the top 3 bits; in odd octants measure the angle from the octant's far end so
  // the polynomial argument t = angle / (pi/4) is in (0, 1) and both results keep their
  // relative accuracy. The half-step offset keeps every angle off the axes: sin and cos are
  // never 0, so no result depends on the sign of a zero (which Vulkan lets devices ignore).
  // Everything up to t is exact integer arithmetic; half_steps is odd, < 2^22.
  const uint32_t octant = angle24 >> 21;
  uint32_t half_steps = 2u * (angle24 & 0x1FFFFFu) + 1u;
  if (octant & 1u) half_steps = 0x400000u - half_steps;
  const float t = float(half_steps) * kTwoPow22Inv;
  const float t2 = t * t;
  float s = t * horner(kSinS, t2);
  float c = horner(kCosC, t2);
  if ((octant + 1u) & 2u) {
    const float tmp = s;
    s = c;
    c = tmp;
  }
  if (octant & 4u) s = -s;
  if ((octant + 2u) & 4u) c = -c;
  return {s, c};
}

}  // namespace exact_math

float uniform_from_bits(uint32_t x) { return (float(x >> 9) + 0.5f) * kTwoPow23Inv; }

std::array<float, 2> normal_pair_from_bits(uint32_t radius_word, uint32_t angle_word) {
  const float u1 = uniform_from_bits(radius_word);
  const float r = exact_math::sqrt_positive(-2.0f * exact_math::log_positive(u1));
  const auto [s, c] = exact_math::sincos_turns24(angle_word >> 8);
  return {r * c, r * s};
}

float uniform(uint64_t seed, uint32_t stream, uint64_t index) {
  return uniform_from_bits(philox_block(seed, stream, index >> 2)[index & 3]);
}

float normal(uint64_t seed, uint32_t stream, uint64_t index) {
  const PhiloxCounter x = philox_block(seed, stream, index >> 2);
  const unsigned pair = (index >> 1) & 1;
  return normal_pair_from_bits(x[2 * pair], x[2 * pair + 1])[index & 1];
}

void fill_uniform(std::span<float> out, uint64_t seed, uint32_t stream, uint64_t index_offset) {
  size_t i = 0;
  while (i < out.size()) {
    const uint64_t index = index_offset + i;
    const PhiloxCounter x = philox_block(seed, stream, index >> 2);
    for (unsigned w = unsigned(index & 3); w < 4 && i < out.size(); ++w, ++i) out[i] = uniform_from_bits(x[w]);
  }
}

void fill_normal(std::span<float> out, uint64_t seed, uint32_t stream, uint64_t index_offset) {
  size_t i = 0;
  while (i < out.size()) {
    const uint64_t index = index_offset + i;
    const PhiloxCounter x = philox_block(seed, stream, index >> 2);
    const std::array<float, 2> z01 = normal_pair_from_bits(x[0], x[1]);
    const std::array<float, 2> z23 = normal_pair_from_bits(x[2], x[3]);
    const float z[4] = {z01[0], z01[1], z23[0], z23[1]};
    for (unsigned w = unsigned(index & 3); w < 4 && i < out.size(); ++w, ++i) out[i] = z[w];
  }
}

}  // namespace tessera::rng
