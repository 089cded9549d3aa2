#version 450
// SharedTiles variant (for discrete GPUs) of the fused attention forward (inference): for
// every (sample n, head h) and query token t
//   o[n, h*D+c, t] = sum_s softmax_s(q_t . k_s / sqrt(D)) * v[n, h*D+c, s]
// with q, k, v the D x T row-major matrices of head h inside qkv [N, 3C, T] (see
// tessera/ops/attention.hpp), without ever storing the T x T probabilities.
//
// Tiling: workgroup (x, y) covers WG query tokens x*WG .. x*WG+WG-1 of pair y = n*heads + h,
// one token per invocation (q, accumulator, running max and sum in registers). Keys go by in
// tiles of TILE: the workgroup stages the tile's K and V (D x TILE each, read coalesced along
// keys) in shared memory transposed to key-major, so every invocation reads the same
// address (a broadcast, no bank conflicts) while walking one key's D channels.
// Online softmax per block of KB = 16 keys: one max update, one rescale of the accumulator
// by exp2(old max - new max), then the block's exp2(score - max) terms, in log2 units (q is
// pre-multiplied by log2(e)/sqrt(D)). Each output is a fixed-order sum: deterministic.
// Shared memory: 2 * TILE * D floats (the host keeps it within 16 KiB, Vulkan's minimum).
#include "common.glsl"

layout(constant_id = 3) const int HEAD_DIM = 16;
layout(constant_id = 4) const int TILE = 64;  // keys per shared tile, a multiple of KB

const int KB = 16;
// Masks keys past T. Finite, so (masked - max) never forms inf - inf; exp2 of it is 0.
const float kMasked = -3.0e38;

layout(std430, binding = 0) readonly buffer Qkv { float qkv[]; };
layout(std430, binding = 1) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
  int tokens;
  int heads;
  int channels;
  float qk_scale;  // log2(e) / sqrt(HEAD_DIM)
} pc;

shared float k_tile[TILE * HEAD_DIM];  // [key][channel]
shared float v_tile[TILE * HEAD_DIM];

void main() {
  const int WG = int(gl_WorkGroupSize.x);
  int lane = int(gl_LocalInvocationID.x);
  int T = pc.tokens, C = pc.channels;
  int pair = int(gl_WorkGroupID.y);
  int n = pair / pc.heads, h = pair - n * pc.heads;
  int q_base = n * 3 * C * T + h * HEAD_DIM * T;
  int k_base = q_base + C * T, v_base = q_base + 2 * C * T;
  int t = int(gl_WorkGroupID.x) * WG + lane;
  int tc = min(t, T - 1);  // lanes past T compute a duplicate row and store nothing

  float q[HEAD_DIM], acc[HEAD_DIM];
  for (int c = 0; c < HEAD_DIM; ++c) {
    q[c] = qkv[q_base + c * T + tc] * pc.qk_scale;
    acc[c] = 0.0;
  }
  float run_max = kMasked, run_sum = 0.0;

  for (int s0 = 0; s0 < T; s0 += TILE) {
    for (int i = lane; i < TILE * HEAD_DIM; i += WG) {
      int c = i / TILE, key = i - c * TILE, s = s0 + key;
      bool live = s < T;
      k_tile[key * HEAD_DIM + c] = live ? qkv[k_base + c * T + s] : 0.0;
      v_tile[key * HEAD_DIM + c] = live ? qkv[v_base + c * T + s] : 0.0;
    }
    barrier();
    int keys = min(TILE, T - s0);
    for (int b0 = 0; b0 < keys; b0 += KB) {
      float p[KB];
      float block_max = kMasked;
      for (int j = 0; j < KB; ++j) {
        float dotp = 0.0;
        for (int c = 0; c < HEAD_DIM; ++c) dotp = fma(q[c], k_tile[(b0 + j) * HEAD_DIM + c], dotp);
        p[j] = b0 + j < keys ? dotp : kMasked;
        block_max = max(block_max, p[j]);
      }
      float new_max = max(run_max, block_max);
      float rescale = exp2(run_max - new_max);
      run_max = new_max;
      float block_sum = 0.0;
      for (int j = 0; j < KB; ++j) {
        p[j] = exp2(p[j] - new_max);
        block_sum += p[j];
      }
      run_sum = run_sum * rescale + block_sum;
      for (int c = 0; c < HEAD_DIM; ++c) {
        float a = acc[c] * rescale;
        for (int j = 0; j < KB; ++j) a = fma(p[j], v_tile[(b0 + j) * HEAD_DIM + c], a);
        acc[c] = a;
      }
    }
    barrier();  // the next tile overwrites k_tile / v_tile
  }

  if (t >= T) return;
  int o_base = n * C * T + h * HEAD_DIM * T;
  float inv = 1.0 / run_sum;
  for (int c = 0; c < HEAD_DIM; ++c) o[o_base + c * T + t] = acc[c] * inv;
}
