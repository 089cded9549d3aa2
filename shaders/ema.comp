#version 450
// Exponential moving average of parameters: ema[i] = decay * ema[i] + (1 - decay) * param[i],
// with decay and 1 - decay read from the hyper-parameter block (AdamWBlock::kEmaDecay and
// kEmaOneMinusDecay in adamw.hpp; 1 - decay is formed on the host in double so decays close
// to 1, e.g. 0.9999, keep their precision).
// Two variants (shaders/variants.txt): `ema` (ELEMENT_WIDTH 1) and `ema_vec4` (4: four
// consecutive elements per invocation, used when the element count is a multiple of 4); same
// arithmetic. Lavapipe executes storage-buffer accesses lane by lane, so 16-byte accesses cut
// its work ~4x (see adamw.comp).
// Indexing: invocation i handles elements ELEMENT_WIDTH*i .. +ELEMENT_WIDTH-1, 1-D dispatch
// spread over x/y.
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Hyper { float hyper[]; };
layout(std430, binding = 1) readonly buffer Param { element_t param[]; };
layout(std430, binding = 2) buffer Ema { element_t ema[]; };

layout(push_constant) uniform Push { uint n; } pc;  // element_t count

const uint kEmaDecay = 10, kEmaOneMinusDecay = 11;

void main() {
  uint i = flat_global_index();
  if (i >= pc.n) return;
  ema[i] = hyper[kEmaDecay] * ema[i] + hyper[kEmaOneMinusDecay] * param[i];
}
