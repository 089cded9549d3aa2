#version 450
// Second pass of the split-K weight gradient: dw[i] = sum_{s < splits} part[s * n + i], the
// splits added in index order so the result is the same on every run (no atomics).
// Indexing: one invocation per element of dw, 1-D dispatch (flat_global_index).
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Part { float part[]; };
layout(std430, binding = 1) writeonly buffer Dw { float dw[]; };

layout(push_constant) uniform Push {
  uint n;
  uint splits;
} pc;

void main() {
  uint i = flat_global_index();
  if (i >= pc.n) return;
  float s = 0.0;
  for (uint k = 0; k < pc.splits; ++k) s += part[k * pc.n + i];
  dw[i] = s;
}
