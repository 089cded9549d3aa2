// SiLU derivative shared by the activation and fused GroupNorm backward kernels.
#ifndef TESSERA_ACTIVATION_GLSL
#define TESSERA_ACTIVATION_GLSL

// d silu(x)/dx = s + x s (1 - s), s = sigmoid(x). For x > 0, 1 - s computed as 1 - s cancels
// (x = 8: 1 - s = 3e-4 carries an absolute error of 6e-8, i.e. 2e-4 relative, times x s = 8),
// so it is formed as exp(-x) * s there, which is exact to a few ulp. For x < 0, 1 - s is
// accurate and exp(-x) may overflow (inf * 0), so the plain form is used.
float silu_derivative(float x) {
  float e = exp(-x);
  float s = 1.0 / (1.0 + e);
  float one_minus_s = x >= 0.0 ? e * s : 1.0 - s;
  return s * (1.0 + x * one_minus_s);
}

// Four-wide forms for the vec4 kernels (same formulas, componentwise).
vec4 silu(vec4 x) { return x / (1.0 + exp(-x)); }

vec4 silu_derivative(vec4 x) {
  vec4 e = exp(-x);
  vec4 s = 1.0 / (1.0 + e);
  vec4 one_minus_s = mix(1.0 - s, e * s, greaterThanEqual(x, vec4(0.0)));
  return s * (1.0 + x * one_minus_s);
}

#endif
