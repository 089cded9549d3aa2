#version 450
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
#extension GL_EXT_control_flow_attributes : require
// TexelFetch variant (fast on lavapipe) of the fused attention forward (inference): for
// every (sample n, head h) and query token t
//   o[n, h*D+c, t] = sum_s softmax_s(q_t . k_s / sqrt(D)) * v[n, h*D+c, s]
// with q, k, v the D x T row-major matrices of head h inside qkv [N, 3C, T] (see
// tessera/ops/attention.hpp), without ever storing the T x T probabilities.
//
// Online softmax: keys are visited in blocks of KB = 16 in increasing order. For a block the
// lane computes the 16 scores of each of its rows, raises its running maximum once, rescales
// its running sum and accumulator once by exp2(old max - new max), then adds the block's
// exp2(score - max) terms. Scores are in log2 units (q is pre-multiplied by log2(e)/sqrt(D))
// so exp2 is the only transcendental. Every output is a fixed-order sum: results are the
// same run to run.
//
// Tiling: workgroup (x, y) covers query tokens x*WG*ROWS .. +WG*ROWS of pair y = n*heads + h;
// lane l owns the ROWS tokens x*WG*ROWS + r*WG + l (q and the accumulator in registers).
// K and V are read four keys at a time as vec4 texels (VEC4 = 1; T a multiple of 4) or as
// four scalar texels (VEC4 = 0, any T). Lane l of each group of 8 subgroup lanes fetches
// channel c0 + (l & 7) and subgroupBroadcast hands it to the others, so one texel fetch
// (vectorized by lavapipe, SPEC §10) feeds 8 lanes' 4*ROWS multiply-adds. No shared memory,
// no barriers. Lanes past T compute a clamped duplicate row and store nothing, so every
// lane stays active for the broadcasts.
#include "common.glsl"

layout(constant_id = 3) const int HEAD_DIM = 16;
layout(constant_id = 4) const int ROWS = 8;  // query rows per lane (registers; see attention.cpp)
layout(constant_id = 5) const int VEC4 = 1;

const int DP = (HEAD_DIM + 7) / 8 * 8;  // channels padded to whole broadcast groups (q = 0 there)
const int KB = 16;
const int KV = KB / 4;
// Masks keys past T. Finite, so (masked - max) never forms inf - inf; exp2 of it is 0.
const float kMasked = -3.0e38;

layout(binding = 0) uniform samplerBuffer qkv1;  // qkv as f32 texels
layout(binding = 1) uniform samplerBuffer qkv4;  // qkv as vec4 texels (VEC4 = 1; else unused)
layout(std430, binding = 2) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
  int tokens;
  int heads;
  int channels;
  float qk_scale;  // log2(e) / sqrt(HEAD_DIM)
} pc;

vec4 load4(int row, int s) {
  int T = pc.tokens;
  if (VEC4 != 0) return texelFetch(qkv4, (row + min(s, T - 4)) >> 2);
  return vec4(texelFetch(qkv1, row + min(s, T - 1)).r, texelFetch(qkv1, row + min(s + 1, T - 1)).r,
              texelFetch(qkv1, row + min(s + 2, T - 1)).r, texelFetch(qkv1, row + min(s + 3, T - 1)).r);
}

void main() {
  const int WG = int(gl_WorkGroupSize.x);
  int lane = int(gl_LocalInvocationID.x);
  int sub = int(gl_SubgroupInvocationID) & 7;
  int T = pc.tokens, C = pc.channels;
  int pair = int(gl_WorkGroupID.y);
  int n = pair / pc.heads, h = pair - n * pc.heads;
  int q_base = n * 3 * C * T + h * HEAD_DIM * T;
  int k_base = q_base + C * T, v_base = q_base + 2 * C * T;
  int first = int(gl_WorkGroupID.x) * WG * ROWS + lane;

  float q[ROWS][DP];
  float acc[ROWS][DP];
  float run_max[ROWS], run_sum[ROWS];
  [[unroll]] for (int r = 0; r < ROWS; ++r) {
    int t = min(first + r * WG, T - 1);
    [[unroll]] for (int c = 0; c < DP; ++c) {
      q[r][c] = c < HEAD_DIM ? texelFetch(qkv1, q_base + c * T + t).r * pc.qk_scale : 0.0;
      acc[r][c] = 0.0;
    }
    run_max[r] = kMasked;
    run_sum[r] = 0.0;
  }

  for (int s0 = 0; s0 < T; s0 += KB) {
    vec4 p[ROWS][KV];
    [[unroll]] for (int r = 0; r < ROWS; ++r)
      [[unroll]] for (int j = 0; j < KV; ++j) p[r][j] = vec4(0.0);
    [[unroll]] for (int c0 = 0; c0 < DP; c0 += 8) {
      // This lane's channel of the group, clamped: padding channels meet q = 0.
      int k_row = k_base + min(c0 + sub, HEAD_DIM - 1) * T;
      vec4 mine[KV];
      [[unroll]] for (int j = 0; j < KV; ++j) mine[j] = load4(k_row, s0 + 4 * j);
      [[unroll]] for (int cc = 0; cc < 8; ++cc)
        [[unroll]] for (int j = 0; j < KV; ++j) {
          vec4 k4 = subgroupBroadcast(mine[j], cc);
          [[unroll]] for (int r = 0; r < ROWS; ++r) p[r][j] = fma(vec4(q[r][c0 + cc]), k4, p[r][j]);
        }
    }
    if (s0 + KB > T) {  // tail block: keys past T take no weight
      [[unroll]] for (int j = 0; j < KV; ++j) {
        bvec4 past = greaterThanEqual(ivec4(s0 + 4 * j) + ivec4(0, 1, 2, 3), ivec4(T));
        [[unroll]] for (int r = 0; r < ROWS; ++r) p[r][j] = mix(p[r][j], vec4(kMasked), past);
      }
    }
    [[unroll]] for (int r = 0; r < ROWS; ++r) {
      vec4 m4 = max(max(p[r][0], p[r][1]), max(p[r][2], p[r][3]));
      float new_max = max(run_max[r], max(max(m4.x, m4.y), max(m4.z, m4.w)));
      float rescale = exp2(run_max[r] - new_max);
      run_max[r] = new_max;
      float block_sum = 0.0;
      [[unroll]] for (int j = 0; j < KV; ++j) {
        p[r][j] = exp2(p[r][j] - vec4(new_max));
        block_sum += dot(p[r][j], vec4(1.0));
      }
      run_sum[r] = run_sum[r] * rescale + block_sum;
      [[unroll]] for (int c = 0; c < DP; ++c) acc[r][c] *= rescale;
    }
    [[unroll]] for (int c0 = 0; c0 < DP; c0 += 8) {
      int v_row = v_base + min(c0 + sub, HEAD_DIM - 1) * T;
      vec4 mine[KV];
      [[unroll]] for (int j = 0; j < KV; ++j) mine[j] = load4(v_row, s0 + 4 * j);
      [[unroll]] for (int cc = 0; cc < 8; ++cc)
        [[unroll]] for (int j = 0; j < KV; ++j) {
          vec4 v4 = subgroupBroadcast(mine[j], cc);
          [[unroll]] for (int r = 0; r < ROWS; ++r) acc[r][c0 + cc] += dot(p[r][j], v4);
        }
    }
  }

  int o_base = n * C * T + h * HEAD_DIM * T;
  [[unroll]] for (int r = 0; r < ROWS; ++r) {
    int t = first + r * WG;
    if (t >= T) break;
    float inv = 1.0 / run_sum[r];
    [[unroll]] for (int c = 0; c < HEAD_DIM; ++c) o[o_base + c * T + t] = acc[r][c] * inv;
  }
}
