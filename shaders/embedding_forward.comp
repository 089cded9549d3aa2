#version 450
// Embedding lookup: out[n, c] = table[labels[n], c]; a label >= rows writes a zero row
// (the host validates the labels it uploads; the shader only guarantees it never reads out
// of bounds). Indexing: one invocation per output element (n, c), 1-D over x/y.
#include "common.glsl"
#include "portable_math.glsl"

layout(std430, binding = 0) readonly buffer Table { float table[]; };
layout(std430, binding = 1) readonly buffer Labels { uint labels[]; };
layout(std430, binding = 2) writeonly buffer Out { float result[]; };

layout(push_constant) uniform Push {
  uint n;  // N * dim
  uint dim;
  uint rows;
} pc;

void main() {
  uint index = flat_global_index();
  if (index >= pc.n) return;
  uint sample_index = index / pc.dim;
  uint column = index - sample_index * pc.dim;
  uint label = labels[sample_index];
  result[index] = label < pc.rows ? table[label * pc.dim + column] : 0.0;
#if PORTABLE
  result[index] = pm_flush(result[index]);
#endif
}
