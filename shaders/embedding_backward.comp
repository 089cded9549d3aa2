#version 450
// Embedding backward (parameter gradient, overwrite):
//   dtable[r, c] = sum over n = 0..N-1 (in this order) with labels[n] == r of dout[n, c]
// Deterministic without atomics: one invocation owns each (r, c) and scans all N labels in
// order, so the sum order is fixed. Cost rows*dim*N reads of the (tiny, cached) label array,
// fine for class tables (rows <= ~1000, N = batch). Labels >= rows contribute nowhere.
// Indexing: one invocation per table element (r, c), 1-D over x/y.
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Labels { uint labels[]; };
layout(std430, binding = 1) readonly buffer DOut { float dout[]; };
layout(std430, binding = 2) writeonly buffer DTable { float dtable[]; };

layout(push_constant) uniform Push {
  uint n;  // rows * dim
  uint dim;
  uint samples;
} pc;

void main() {
  uint index = flat_global_index();
  if (index >= pc.n) return;
  uint row = index / pc.dim;
  uint column = index - row * pc.dim;
  float sum = 0.0;
  for (uint s = 0; s < pc.samples; ++s)
    if (labels[s] == row) sum += dout[s * pc.dim + column];
  dtable[index] = sum;
}
