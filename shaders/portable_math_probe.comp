#version 450
// Test probe of the portable arithmetic (shaders/include/portable_math.h): for input triple i
// (x, y, f) it writes the eight results below, which tests/ops/test_portable.cpp compares bit
// for bit with the C++ twin (tessera/portable_math.hpp). Not used by inference.
//   out[8i + 0..7] = flush(x), add(x, y), mul(x, y), recip(x), rsqrt(x), exp(x), silu(x),
//                    sin_cos_of_product(float(i % 1000), f, 0, i odd)
// Indexing: one invocation per triple, 1-D dispatch.
#include "common.glsl"
#include "portable_math.glsl"

layout(std430, binding = 0) readonly buffer Inputs { float inputs[]; };
layout(std430, binding = 1) writeonly buffer Outputs { float outputs[]; };
layout(push_constant) uniform Push { uint n; } pc;

void main() {
  uint i = flat_global_index();
  if (i >= pc.n) return;
  float x = inputs[3 * i], y = inputs[3 * i + 1], f = inputs[3 * i + 2];
  outputs[8 * i] = pm_flush(x);
  outputs[8 * i + 1] = pm_add(x, y);
  outputs[8 * i + 2] = pm_mul(x, y);
  outputs[8 * i + 3] = pm_recip(x);
  outputs[8 * i + 4] = pm_rsqrt(x);
  outputs[8 * i + 5] = pm_exp(x);
  outputs[8 * i + 6] = pm_silu(x);
  outputs[8 * i + 7] = pm_sin_cos_of_product(float(i % 1000u), f, 0.0, (i & 1u) != 0u);
}
