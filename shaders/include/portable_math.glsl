// Portable-mode arithmetic for the kernels built with PORTABLE=1 (shaders/variants.txt): the
// scalar functions of portable_math.h (shared with C++, see docs/portable.md) plus componentwise
// vec4 forms for the kernels that accumulate four outputs per register. Each vec4 form is the
// scalar one applied per component (same rounding, same flush).
#ifndef TESSERA_PORTABLE_MATH_GLSL
#define TESSERA_PORTABLE_MATH_GLSL

// Kernels with a portable build have two rows in shaders/variants.txt (PORTABLE=0 / 1); a
// kernel compiled without the define is the fast one.
#ifndef PORTABLE
#define PORTABLE 0
#endif

#define pm_abs abs
#include "portable_math.h"

vec4 pm_flush4(vec4 x) { return mix(x, vec4(0.0), lessThan(abs(x), vec4(uintBitsToFloat(0x00800000u)))); }
vec4 pm_add4(vec4 a, vec4 b) {
  precise vec4 r = a + b;
  return pm_flush4(r);
}
vec4 pm_mul4(vec4 a, vec4 b) {
  precise vec4 r = a * b;
  return pm_flush4(r);
}

// acc + a * b as the contract's add(acc, mul(a, b)).
float pm_acc(float acc, float a, float b) { return pm_add(acc, pm_mul(a, b)); }
vec4 pm_acc4(vec4 acc, vec4 a, vec4 b) { return pm_add4(acc, pm_mul4(a, b)); }

#endif
