// Portable-mode arithmetic, written once for both sides (like conv2d_push.h): GLSL gets it
// through portable_math.glsl, C++ through runtime/include/tessera/portable_math.hpp. The
// contract it implements, with the accuracy of each function, is docs/portable.md §1-2.
//
// Only correctly rounded add/sub/mul (each followed by the flush pm_flush), exact integer and
// bit operations, comparisons and roundEven are used: no driver transcendental, no division,
// no fused multiply-add (`precise` in GLSL; -ffp-contract=off in C++). Every constant is an
// IEEE bit pattern so that both compilers see the same float.
#ifndef TESSERA_PORTABLE_MATH_H
#define TESSERA_PORTABLE_MATH_H

#ifdef __cplusplus
#define PM_FN inline
#define PM_PRECISE
#define PM_BITS(x) uintBitsToFloat(x)
#else
#define PM_FN
#define PM_PRECISE precise
#define PM_BITS(x) uintBitsToFloat(x)
#endif

// Flushes subnormals and -0 to +0 (NaN and infinities pass): applied after every operation,
// so a device that keeps subnormals and one that flushes them agree.
PM_FN float pm_flush(float x) { return pm_abs(x) < PM_BITS(0x00800000u) ? 0.0f : x; }
PM_FN float pm_add(float a, float b) {
  PM_PRECISE float r = a + b;
  return pm_flush(r);
}
PM_FN float pm_sub(float a, float b) {
  PM_PRECISE float r = a - b;
  return pm_flush(r);
}
PM_FN float pm_mul(float a, float b) {
  PM_PRECISE float r = a * b;
  return pm_flush(r);
}
// a * b + c with two roundings (never fused).
PM_FN float pm_mad(float a, float b, float c) { return pm_add(pm_mul(a, b), c); }
PM_FN float pm_neg(float a) { return pm_flush(-a); }

// |x| = m * 2^e with m in [1/2, 1) by bit operations; 1/m from the linear guess 48/17 - 32/17 m
// (relative error <= 1/17) and three Newton steps; the exponent -e put back by integer arithmetic.
PM_FN float pm_recip(float x) {
  uint bits = floatBitsToUint(x);
  uint sign = bits & 0x80000000u;
  uint mag = bits & 0x7FFFFFFFu;
  if (mag > 0x7F800000u) return x;                                      // NaN
  if (mag == 0x7F800000u) return 0.0f;                                  // 1/inf
  if (mag < 0x00800000u) return uintBitsToFloat(sign | 0x7F800000u);  // 1/0 (subnormals flushed)
  int e = int(mag >> 23u) - 126;
  float m = uintBitsToFloat((mag & 0x007FFFFFu) | 0x3F000000u);
  float y = pm_sub(PM_BITS(0x4034B4B5u), pm_mul(PM_BITS(0x3FF0F0F1u), m));  // 48/17 - 32/17 m
  for (int i = 0; i < 3; ++i) {
    float t = pm_sub(1.0f, pm_mul(m, y));
    y = pm_add(y, pm_mul(y, t));
  }
  uint yb = floatBitsToUint(y);
  int field = int(yb >> 23u) - e;
  if (field <= 0) return 0.0f;  // would be subnormal
  return uintBitsToFloat(sign | (uint(field) << 23u) | (yb & 0x007FFFFFu));
}

// 1/sqrt(x): x = m * 4^k with m in [1, 4); the bit-trick guess (relative error < 0.2%), two
// Newton steps y *= 1.5 - (m/2) y^2 and a last one as y += y (1/2 - (m/2) y y), whose small
// residual rounds better (exact at powers of 4); the exponent -k put back by integer arithmetic.
PM_FN float pm_rsqrt(float x) {
  uint bits = floatBitsToUint(x);
  if (x != x) return x;
  if (bits == 0x80000000u || bits < 0x00800000u) return uintBitsToFloat(0x7F800000u);  // +-0
  if (bits > 0x80000000u) return uintBitsToFloat(0x7FC00000u);                          // x < 0
  if (bits == 0x7F800000u) return 0.0f;
  int e = int(bits >> 23u) - 127;
  int k = e >> 1;  // floor(e / 2): arithmetic shift in both languages
  float m = uintBitsToFloat((bits & 0x007FFFFFu) | (uint(127 + e - 2 * k) << 23u));
  float y = uintBitsToFloat(0x5F3759DFu - (floatBitsToUint(m) >> 1u));
  float h = pm_mul(0.5f, m);
  for (int i = 0; i < 2; ++i) y = pm_mul(y, pm_sub(1.5f, pm_mul(h, pm_mul(y, y))));
  y = pm_add(y, pm_mul(y, pm_sub(0.5f, pm_mul(pm_mul(h, y), y))));
  uint yb = floatBitsToUint(y);
  return uintBitsToFloat((uint(int(yb >> 23u) - k) << 23u) | (yb & 0x007FFFFFu));
}

// e^x: x = k ln2 + r (Cody-Waite, ln2 = C1 + C2 with k * C1 exact), e^r by its Taylor
// polynomial to degree 7 (truncation < 6e-9 on |r| <= ln2/2), 2^k added to the exponent bits.
PM_FN float pm_exp(float x) {
  if (x != x) return x;
  if (x > PM_BITS(0x42B17217u)) return uintBitsToFloat(0x7F800000u);  // > 88.72283: overflow
  if (x < PM_BITS(0xC2AEAC4Fu)) return 0.0f;                          // < -87.33654: below FLT_MIN
  float k = roundEven(pm_mul(x, PM_BITS(0x3FB8AA3Bu)));               // log2(e)
  float r = pm_sub(pm_sub(x, pm_mul(k, PM_BITS(0x3F317200u))), pm_mul(k, PM_BITS(0x35BFBE8Eu)));
  float p = PM_BITS(0x39500D01u);      // 1/5040
  p = pm_mad(p, r, PM_BITS(0x3AB60B61u));  // 1/720
  p = pm_mad(p, r, PM_BITS(0x3C088889u));  // 1/120
  p = pm_mad(p, r, PM_BITS(0x3D2AAAABu));  // 1/24
  p = pm_mad(p, r, PM_BITS(0x3E2AAAABu));  // 1/6
  p = pm_mad(p, r, 0.5f);
  p = pm_mad(p, r, 1.0f);
  p = pm_mad(p, r, 1.0f);
  uint pb = floatBitsToUint(p);
  int field = int(pb >> 23u) + int(k);
  if (field <= 0) return 0.0f;
  if (field >= 255) return uintBitsToFloat(0x7F800000u);
  return uintBitsToFloat((uint(field) << 23u) | (pb & 0x007FFFFFu));
}

PM_FN float pm_sigmoid(float x) { return pm_recip(pm_add(1.0f, pm_exp(pm_neg(x)))); }
PM_FN float pm_silu(float x) { return pm_mul(x, pm_sigmoid(x)); }

// Veltkamp split of a into hi (upper 12 significand bits) + lo: the hi part of a product of two
// such splits is exact.
PM_FN float pm_split_hi(float a) {
  float c = pm_mul(4097.0f, a);
  return pm_sub(c, pm_sub(c, a));
}

// cos(t * freq) (is_sin false) or sin(t * freq) for freq = freq_hi + freq_lo: the timestep
// embedding's argument reaches ~1000, so t * freq_hi is formed exactly (Dekker), reduced by pi/2
// in three parts (Cody-Waite; the first two with <= 8 significant bits) and sin/cos of the
// reduced r in [-pi/4, pi/4] come from Taylor polynomials of degree 11/12.
PM_FN float pm_sin_cos_of_product(float t, float freq_hi, float freq_lo, bool is_sin) {
  float t_hi = pm_split_hi(t), t_lo = pm_sub(t, t_hi);
  float f_hi = pm_split_hi(freq_hi), f_lo = pm_sub(freq_hi, f_hi);
  float p = pm_mul(t, freq_hi);
  float e = pm_add(pm_add(pm_add(pm_sub(pm_mul(t_hi, f_hi), p), pm_mul(t_hi, f_lo)), pm_mul(t_lo, f_hi)),
                   pm_mul(t_lo, f_lo));
  float tail = pm_add(e, pm_mul(t, freq_lo));
  float q = roundEven(pm_mul(p, PM_BITS(0x3F22F983u)));  // 2/pi
  float r = pm_add(pm_sub(pm_sub(p, pm_mul(q, 1.5703125f)), pm_mul(q, PM_BITS(0x39FE0000u))),
                   pm_sub(tail, pm_mul(q, PM_BITS(0xB52BBBD3u))));
  float r2 = pm_mul(r, r);
  float s = PM_BITS(0xB2D7322Bu);           // -1/11!
  s = pm_mad(s, r2, PM_BITS(0x3638EF1Du));  // 1/9!
  s = pm_mad(s, r2, PM_BITS(0xB9500D01u));  // -1/7!
  s = pm_mad(s, r2, PM_BITS(0x3C088889u));  // 1/5!
  s = pm_mad(s, r2, PM_BITS(0xBE2AAAABu));  // -1/3!
  float sin_r = pm_add(r, pm_mul(pm_mul(r, r2), s));
  float c = PM_BITS(0x310F76C7u);           // 1/12!
  c = pm_mad(c, r2, PM_BITS(0xB493F27Eu));  // -1/10!
  c = pm_mad(c, r2, PM_BITS(0x37D00D01u));  // 1/8!
  c = pm_mad(c, r2, PM_BITS(0xBAB60B61u));  // -1/6!
  c = pm_mad(c, r2, PM_BITS(0x3D2AAAABu));  // 1/4!
  c = pm_mad(c, r2, -0.5f);
  float cos_r = pm_mad(c, r2, 1.0f);
  int quadrant = (int(q) + (is_sin ? 3 : 0)) & 3;  // sin(x) = cos(x - pi/2)
  float value = (quadrant & 1) != 0 ? sin_r : cos_r;
  return (quadrant == 1 || quadrant == 2) ? pm_neg(value) : value;
}

#endif
