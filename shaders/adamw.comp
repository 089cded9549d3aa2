#version 450
// One AdamW step (torch.optim.AdamW, single-tensor path, amsgrad=False), per element:
//   g  = grad * clip                    (clip = clip_result[1] when kUseClip, else 1)
//   p  = p * (1 - lr*wd)                decoupled weight decay, factor precomputed on the host
//   m  = m * beta1 + (1-beta1) * g      (torch 1.13: mul_(beta1).add_(grad, alpha=1-beta1))
//   v  = v * beta2 + (1-beta2) * g * g
//   p  = p - step_size * m / (sqrt(v) / sqrt(1-beta2^t) + eps),  step_size = lr / (1-beta1^t)
// Every step-dependent value is read from the hyper-parameter block (layout in
// runtime/include/tessera/ops/adamw.hpp) so one recorded command buffer serves every step.
// Two variants (shaders/variants.txt): `adamw` (ELEMENT_WIDTH 1) and `adamw_vec4` (4), which takes
// four consecutive elements per invocation (vec4 loads and stores) and is used when the tensor's
// element count is a multiple of 4 (every arena tensor is 256-byte aligned). Same per-element
// arithmetic in both (a tensor always takes the same path, so replays stay bit-identical). Why
// the vec4 form: lavapipe executes storage-buffer accesses lane by lane, so one 16-byte access
// per lane instead of four 4-byte ones is ~4x less work there (measured ~3x on AdamW); on GPUs it
// is a wider load.
// Indexing: invocation i handles elements ELEMENT_WIDTH*i .. +ELEMENT_WIDTH-1, 1-D dispatch
// spread over x/y.
#include "common.glsl"

layout(constant_id = 3) const uint kUseClip = 0;

layout(std430, binding = 0) readonly buffer Hyper { float hyper[]; };
layout(std430, binding = 1) readonly buffer Clip { float clip_result[]; };
layout(std430, binding = 2) readonly buffer Grad { element_t grad[]; };
layout(std430, binding = 3) buffer Param { element_t param[]; };
layout(std430, binding = 4) buffer ExpAvg { element_t exp_avg[]; };
layout(std430, binding = 5) buffer ExpAvgSq { element_t exp_avg_sq[]; };

layout(push_constant) uniform Push { uint n; } pc;  // element_t count

// Must match AdamWBlock in adamw.hpp.
const uint kBeta1 = 1, kBeta2 = 2, kEps = 3, kStepSize = 5, kBiasCorrection2Sqrt = 6, kDecayFactor = 7,
           kOneMinusBeta1 = 8, kOneMinusBeta2 = 9;

void main() {
  uint i = flat_global_index();
  if (i >= pc.n) return;
  element_t g = grad[i];
  if (kUseClip != 0) g *= clip_result[1];
  element_t p = param[i] * hyper[kDecayFactor];
  element_t m = exp_avg[i] * hyper[kBeta1] + hyper[kOneMinusBeta1] * g;
  element_t v = exp_avg_sq[i] * hyper[kBeta2] + hyper[kOneMinusBeta2] * (g * g);
  element_t denom = sqrt(v) / hyper[kBiasCorrection2Sqrt] + hyper[kEps];
  param[i] = p - hyper[kStepSize] * (m / denom);
  exp_avg[i] = m;
  exp_avg_sq[i] = v;
}
