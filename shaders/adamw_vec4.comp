#version 450
// adamw.comp on four consecutive elements per invocation (vec4 loads and stores), used when
// the tensor's element count is a multiple of 4 (every arena tensor is 256-byte aligned).
// Same per-element arithmetic as adamw.comp (a tensor always takes the same path, so replays
// stay bit-identical). Why a separate kernel: lavapipe executes storage-buffer accesses lane
// by lane, so one 16-byte access per lane instead of four 4-byte ones is ~4x less work there
// (measured ~3x on AdamW); on GPUs it is a wider load.
// Indexing: invocation i handles elements 4i..4i+3, 1-D dispatch spread over x/y.
#include "common.glsl"

layout(constant_id = 3) const uint kUseClip = 0;

layout(std430, binding = 0) readonly buffer Hyper { float hyper[]; };
layout(std430, binding = 1) readonly buffer Clip { float clip_result[]; };
layout(std430, binding = 2) readonly buffer Grad { vec4 grad[]; };
layout(std430, binding = 3) buffer Param { vec4 param[]; };
layout(std430, binding = 4) buffer ExpAvg { vec4 exp_avg[]; };
layout(std430, binding = 5) buffer ExpAvgSq { vec4 exp_avg_sq[]; };

layout(push_constant) uniform Push { uint n; } pc;  // vec4 count

// Must match AdamWBlock in adamw.hpp.
const uint kBeta1 = 1, kBeta2 = 2, kEps = 3, kStepSize = 5, kBiasCorrection2Sqrt = 6, kDecayFactor = 7,
           kOneMinusBeta1 = 8, kOneMinusBeta2 = 9;

void main() {
  uint i = flat_global_index();
  if (i >= pc.n) return;
  vec4 g = grad[i];
  if (kUseClip != 0) g *= clip_result[1];
  vec4 p = param[i] * hyper[kDecayFactor];
  vec4 m = exp_avg[i] * hyper[kBeta1] + hyper[kOneMinusBeta1] * g;
  vec4 v = exp_avg_sq[i] * hyper[kBeta2] + hyper[kOneMinusBeta2] * (g * g);
  vec4 denom = sqrt(v) / hyper[kBiasCorrection2Sqrt] + hyper[kEps];
  param[i] = p - hyper[kStepSize] * (m / denom);
  exp_avg[i] = m;
  exp_avg_sq[i] = v;
}
