// Portable-mode arithmetic for the kernels built with PORTABLE=1 (shaders/variants.txt): the
// scalar functions of portable_math.h (shared with C++, see docs/portable.md) plus componentwise
// vec4 forms for the kernels that accumulate four outputs per register. Each vec4 form is the
// scalar one applied per component (same rounding, same flush).
#ifndef TESSERA_PORTABLE_MATH_GLSL
#define TESSERA_PORTABLE_MATH_GLSL

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

#endif
