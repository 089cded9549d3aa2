#version 450
// Row softmax in place, for attention probabilities: for each row r of `rows` rows of length
// `len` (dense, row-major): p[r, j] = exp(s[r, j] - max_j s[r, j]) / sum_j exp(s[r, j] - max).
// Subtracting the row maximum keeps exp() <= 1, so no row overflows.
// Indexing: one invocation per row, three passes over it in increasing j: each row's result is
// the same run to run (no cross-invocation reduction at all).
#include "common.glsl"
#include "portable_math.glsl"

layout(std430, binding = 0) buffer Scores { float p[]; };

layout(push_constant) uniform Push {
  uint rows;
  uint len;
} pc;

void main() {
  uint row = flat_global_index();
  if (row >= pc.rows) return;
  uint base = row * pc.len;
#if PORTABLE
  // docs/portable.md's softmax: portable exp and reciprocal, flushed sequential sum.
  float row_max = pm_flush(p[base]);
  for (uint j = 1; j < pc.len; ++j) row_max = max(row_max, pm_flush(p[base + j]));
  float sum = 0.0;
  for (uint j = 0; j < pc.len; ++j) {
    float e = pm_exp(pm_sub(pm_flush(p[base + j]), row_max));
    p[base + j] = e;
    sum = pm_add(sum, e);
  }
  float inv = pm_recip(sum);
  for (uint j = 0; j < pc.len; ++j) p[base + j] = pm_mul(p[base + j], inv);
#else
  float row_max = p[base];
  for (uint j = 1; j < pc.len; ++j) row_max = max(row_max, p[base + j]);
  float sum = 0.0;
  for (uint j = 0; j < pc.len; ++j) {
    float e = exp(p[base + j] - row_max);
    p[base + j] = e;
    sum += e;
  }
  float inv = 1.0 / sum;
  for (uint j = 0; j < pc.len; ++j) p[base + j] *= inv;
#endif
}
