#version 450
// Exponential moving average of parameters: ema[i] = decay * ema[i] + (1 - decay) * param[i],
// with decay and 1 - decay read from the hyper-parameter block (AdamWBlock::kEmaDecay and
// kEmaOneMinusDecay in adamw.hpp; 1 - decay is formed on the host in double so decays close
// to 1, e.g. 0.9999, keep their precision).
// Indexing: one invocation per element, 1-D dispatch spread over x/y.
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Hyper { float hyper[]; };
layout(std430, binding = 1) readonly buffer Param { float param[]; };
layout(std430, binding = 2) buffer Ema { float ema[]; };

layout(push_constant) uniform Push { uint n; } pc;

const uint kEmaDecay = 10, kEmaOneMinusDecay = 11;

void main() {
  uint i = flat_global_index();
  if (i >= pc.n) return;
  ema[i] = hyper[kEmaDecay] * ema[i] + hyper[kEmaOneMinusDecay] * param[i];
}
