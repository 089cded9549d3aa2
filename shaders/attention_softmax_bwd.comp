#version 450
// Softmax backward in place: given probabilities p and the gradient g = dL/dp of each row,
// g[r, j] <- p[r, j] * (g[r, j] - sum_k g[r, k] * p[r, k])  (= dL/ds for p = softmax(s)).
// Rows of length `len`, dense row-major; `rows` of them.
// Indexing: one invocation per row, the dot product summed in increasing k (deterministic).
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Probs { float p[]; };
layout(std430, binding = 1) buffer Grad { float g[]; };

layout(push_constant) uniform Push {
  uint rows;
  uint len;
} pc;

void main() {
  uint row = flat_global_index();
  if (row >= pc.rows) return;
  uint base = row * pc.len;
  float dot_pg = 0.0;
  for (uint j = 0; j < pc.len; ++j) dot_pg += p[base + j] * g[base + j];
  for (uint j = 0; j < pc.len; ++j) g[base + j] = p[base + j] * (g[base + j] - dot_pg);
}
