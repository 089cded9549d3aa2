#version 450
// MSE loss backward: dpred[i] (=|+=) scale * w[n(i)] * (pred[i] - target[i]),
// scale = 2 * dloss / numel folded on the host; n(i) = i / per_sample.
// Spec constants: kHasWeights (0: w = 1, weights binding aliased to pred and unread),
// kAccumulate (1: add into dpred, 0: overwrite).
// Indexing: one invocation per element, 1-D dispatch spread over x/y.
#include "common.glsl"

layout(constant_id = 3) const uint kHasWeights = 0;
layout(constant_id = 4) const uint kAccumulate = 0;

layout(std430, binding = 0) readonly buffer Pred { float pred[]; };
layout(std430, binding = 1) readonly buffer Target { float target[]; };
layout(std430, binding = 2) readonly buffer Weights { float weights[]; };
layout(std430, binding = 3) buffer DPred { float dpred[]; };

layout(push_constant) uniform Push {
  uint n;
  uint per_sample;
  float scale;
} pc;

void main() {
  uint i = flat_global_index();
  if (i >= pc.n) return;
  float w = kHasWeights != 0 ? weights[i / pc.per_sample] : 1.0;
  float g = (pc.scale * w) * (pred[i] - target[i]);
  dpred[i] = kAccumulate != 0 ? dpred[i] + g : g;
}
