#version 450
// Bias gradient of a linear layer: db[j] = sum over rows i of dy[i, j], dy dense [rows, cols].
// Indexing: one invocation per column j, summing rows in increasing order, so the result is
// bit-identical from run to run (no atomics, no order that depends on scheduling).
// Consecutive invocations read consecutive columns of a row.
#include "common.glsl"

layout(std430, binding = 0) readonly buffer GradOutput { float dy[]; };
layout(std430, binding = 1) writeonly buffer GradBias { float db[]; };

layout(push_constant) uniform Push {
  uint rows;
  uint cols;
} pc;

void main() {
  uint j = flat_global_index();
  if (j >= pc.cols) return;
  float sum = 0.0;
  for (uint i = 0; i < pc.rows; ++i) sum += dy[i * pc.cols + j];
  db[j] = sum;
}
