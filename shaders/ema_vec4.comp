#version 450
// ema.comp on four consecutive elements per invocation (vec4 loads and stores), used when the
// element count is a multiple of 4; same arithmetic as ema.comp. Lavapipe executes
// storage-buffer accesses lane by lane, so 16-byte accesses cut its work ~4x (see adamw_vec4).
// Indexing: invocation i handles elements 4i..4i+3, 1-D dispatch spread over x/y.
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Hyper { float hyper[]; };
layout(std430, binding = 1) readonly buffer Param { vec4 param[]; };
layout(std430, binding = 2) buffer Ema { vec4 ema[]; };

layout(push_constant) uniform Push { uint n; } pc;  // vec4 count

const uint kEmaDecay = 10, kEmaOneMinusDecay = 11;

void main() {
  uint i = flat_global_index();
  if (i >= pc.n) return;
  ema[i] = hyper[kEmaDecay] * ema[i] + hyper[kEmaOneMinusDecay] * param[i];
}
