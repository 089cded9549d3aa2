// Counter-based random numbers: Philox4x32-10 + Box-Muller, bit-identical on every conformant
// Vulkan device and in the CPU twin runtime/src/rng/philox.cpp (keep the two in step; the
// keying, formats and accuracy are documented in runtime/include/tessera/rng.hpp).
//
// Keying: Philox key = (seed_lo, seed_hi), counter = (block_lo, block_hi, stream, 0) with
// block = index / 4; element `index` uses word index % 4. 64-bit indices are carried as
// (lo, hi) u32 pairs so no shaderInt64 is needed.
//   uniform: u = (float(x >> 9) + 0.5) * 2^-23 in (0, 1), exact.
//   normal pair from words (x0, x1): r = sqrt(-2 ln uniform(x0)),
//     theta = 2 pi ((x1 >> 8) + 1/2) / 2^24,
//     (r cos theta, r sin theta) for elements (4b, 4b+1); words (x2, x3) give (4b+2, 4b+3).
//
// Why no built-ins: Vulkan lets log/sin/cos/sqrt be off by ulps differently per vendor and lets
// compilers fuse a*b+c into fma. Only float add/sub/mul (correctly rounded), exact integer and
// bit operations and exact int->float conversions are used; every float temporary is `precise`
// (SPIR-V NoContraction: no fma, no reassociation); no division; no denormals (may be flushed).
#ifndef TESSERA_PHILOX_GLSL
#define TESSERA_PHILOX_GLSL

const uint PHILOX_M0 = 0xD2511F53u;
const uint PHILOX_M1 = 0xCD9E8D57u;
const uint PHILOX_W0 = 0x9E3779B9u;
const uint PHILOX_W1 = 0xBB67AE85u;

uvec4 philox4x32_10(uvec4 c, uvec2 k) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) k += uvec2(PHILOX_W0, PHILOX_W1);
    uint hi0, lo0, hi1, lo1;
    umulExtended(PHILOX_M0, c.x, hi0, lo0);
    umulExtended(PHILOX_M1, c.z, hi1, lo1);
    c = uvec4(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
  }
  return c;
}

// key = (seed_lo, seed_hi, stream); block = (block_lo, block_hi).
uvec4 philox_block(uvec3 key, uvec2 block) { return philox4x32_10(uvec4(block.x, block.y, key.z, 0u), key.xy); }

// 64-bit (lo, hi) index + 32-bit increment, with carry.
uvec2 rng_index_add(uvec2 index, uint increment) {
  uint carry;
  uint lo = uaddCarry(index.x, increment, carry);
  return uvec2(lo, index.y + carry);
}

// 64-bit index / 4 as (lo, hi).
uvec2 rng_block_of(uvec2 index) { return uvec2((index.x >> 2) | (index.y << 30), index.y >> 2); }

float rng_uniform_from_bits(uint x) {
  precise float u = (float(x >> 9) + 0.5) * (1.0 / 8388608.0);
  return u;
}

// ln(1+f) = f * P(f), f in [sqrt(1/2)-1, sqrt(2)-1]; tools/fit_rng_polynomials.py.
float rng_log_polynomial(float f) {
  precise float p = -0.07623294;
  p = p * f + 0.12906605;
  p = p * f + -0.132434592;
  p = p * f + 0.141815305;
  p = p * f + -0.166089937;
  p = p * f + 0.200019866;
  p = p * f + -0.250015855;
  p = p * f + 0.333333254;
  p = p * f + -0.499999881;
  p = p * f + 1.0;
  return p;
}

// Natural log of a positive normal float.
float rng_log_positive(float x) {
  uint bits = floatBitsToUint(x);
  uint mantissa = bits & 0x7FFFFFu;
  // Mantissas from sqrt(2) up are halved so m is in [sqrt(1/2), sqrt(2)] and f = m - 1 small.
  bool halve = mantissa >= 0x3504F4u;
  int exponent = int(bits >> 23) - 127 + (halve ? 1 : 0);
  precise float m = uintBitsToFloat(mantissa | (halve ? 0x3F000000u : 0x3F800000u));
  precise float f = m - 1.0;  // exact (Sterbenz)
  precise float e = float(exponent);
  // ln 2 = 0.693145752 (16 significant bits: e * hi is exact) + 1.42860677e-06.
  precise float result = f * rng_log_polynomial(f) + e * 1.42860677e-06 + e * 0.693145752;
  return result;
}

// Square root of x in [2^-100, 2^100]: bit-trick reciprocal square root, three Newton steps,
// one Heron correction; mul/add only.
float rng_sqrt_positive(float x) {
  precise float y = uintBitsToFloat(0x5F3759DFu - (floatBitsToUint(x) >> 1));
  precise float half_x = 0.5 * x;
  for (int i = 0; i < 3; ++i) y = y * (1.5 - half_x * y * y);
  precise float s = x * y;
  precise float result = s + (x - s * s) * (0.5 * y);
  return result;
}

// (sin, cos) of 2 pi (angle24 + 1/2) / 2^24. Octant from the top 3 bits; odd octants are
// measured from their far end so t = angle / (pi/4) is in (0, 1) (exact) and both keep relative
// accuracy. The half step keeps sin and cos nonzero: no result depends on the sign of a zero,
// which Vulkan lets devices ignore.
vec2 rng_sincos_turns24(uint angle24) {
  uint octant = angle24 >> 21;
  uint half_steps = 2u * (angle24 & 0x1FFFFFu) + 1u;
  if ((octant & 1u) != 0u) half_steps = 0x400000u - half_steps;
  precise float t = float(half_steps) * (1.0 / 4194304.0);
  precise float t2 = t * t;
  precise float sp = -3.59504775e-05;
  sp = sp * t2 + 0.00249000103;
  sp = sp * t2 + -0.0807454363;
  sp = sp * t2 + 0.785398185;
  precise float s = t * sp;
  precise float c = 3.52876327e-06;
  c = c * t2 + -0.000325936504;
  c = c * t2 + 0.0158543233;
  c = c * t2 + -0.308425128;
  c = c * t2 + 1.0;
  if (((octant + 1u) & 2u) != 0u) {
    precise float tmp = s;
    s = c;
    c = tmp;
  }
  if ((octant & 4u) != 0u) s = -s;
  if (((octant + 2u) & 4u) != 0u) c = -c;
  return vec2(s, c);
}

// Box-Muller: (r cos theta, r sin theta).
vec2 rng_normal_pair_from_bits(uint radius_word, uint angle_word) {
  precise float u1 = rng_uniform_from_bits(radius_word);
  precise float w = -2.0 * rng_log_positive(u1);
  precise float r = rng_sqrt_positive(w);
  vec2 sc = rng_sincos_turns24(angle_word >> 8);
  precise float z0 = r * sc.y;
  precise float z1 = r * sc.x;
  return vec2(z0, z1);
}

// The four normals / uniforms of one block.
vec4 rng_normals_of_block(uvec4 x) {
  return vec4(rng_normal_pair_from_bits(x.x, x.y), rng_normal_pair_from_bits(x.z, x.w));
}
vec4 rng_uniforms_of_block(uvec4 x) {
  return vec4(rng_uniform_from_bits(x.x), rng_uniform_from_bits(x.y), rng_uniform_from_bits(x.z),
              rng_uniform_from_bits(x.w));
}

#endif
