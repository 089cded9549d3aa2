#version 450
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
// TexelFetch variant (fast on lavapipe) of the conv2d gradient w.r.t. the weight, one split
// of a split-K sum:
//   part[s, co, ci, tap] = sum_{q in split s} dy[n(q), co, p(q)] * x[n(q), ci, in(p(q), tap)]
// q runs over the flattened (n, oy, ox) output pixels; split s covers pixels
// [s*split_pixels, (s+1)*split_pixels). conv2d_reduce_splits adds the splits in order
// (deterministic; no atomics). With one split the host binds dw itself as `part`.
//
// Tiling: workgroup (x, y, z) owns input channels x*local_size*COLS + l + c*local_size for lane
// l, output channels y*ROWS .. +ROWS-1 and z = split*TAPS + tap. Pixels go in blocks of 8:
// lane l fetches dy of pixel q0 + (l & 7) for its ROWS channels and subgroupBroadcast shares
// them; the x address of each pixel is uniform except for the lane's channel offset, and is
// walked incrementally (no divisions in the loop). Texel fetches and broadcasts only, no
// shared memory (see conv2d_implicit_texel_fetch.comp for why).
#include "common.glsl"
#include "conv2d.glsl"

const int ROWS = 8;  // output channels per lane
const int COLS = 4;  // input channels per lane
// The 8x4 register tile is spelled out (vec4 per row) because lavapipe keeps arrays it does not
// fully unroll in memory.

layout(binding = 0) uniform samplerBuffer x;
layout(binding = 1) uniform samplerBuffer dy;
layout(std430, binding = 2) writeonly buffer Part { float part[]; };

const int BLOCK = 8;

void main() {
  int lane = int(gl_LocalInvocationID.x);
  int wg = int(gl_WorkGroupSize.x);
  int sub = int(gl_SubgroupInvocationID) & (BLOCK - 1);
  int tap = int(gl_WorkGroupID.z) % TAPS;
  int split = int(gl_WorkGroupID.z) / TAPS;
  int ky = tap / KSIZE, kx = tap % KSIZE;
  int m0 = int(gl_WorkGroupID.y) * ROWS;
  int in_hw = pc.in_h * pc.in_w, out_hw = pc.out_h * pc.out_w;
  int total = pc.batch * out_hw;
  int begin = split * pc.split_pixels;
  int end = min(begin + pc.split_pixels, total);

  int ci_base = int(gl_WorkGroupID.x) * wg * COLS + lane;
  ivec4 ci = ivec4(ci_base, ci_base + wg, ci_base + 2 * wg, ci_base + 3 * wg);
  bvec4 live = lessThan(ci, ivec4(pc.in_channels));
  ivec4 x_off = min(ci, ivec4(pc.in_channels - 1)) * in_hw;

  // Walker of the pixel whose dy this lane fetches (q0 + sub), and the uniform walker of q0 + j.
  int lq = min(begin + sub, total - 1);
  int ln = lq / out_hw, loy = (lq - ln * out_hw) / pc.out_w, lox = lq - ln * out_hw - loy * pc.out_w;
  int un = begin / out_hw, uoy = (begin - un * out_hw) / pc.out_w, uox = begin - un * out_hw - uoy * pc.out_w;

  vec4 acc0 = vec4(0), acc1 = vec4(0), acc2 = vec4(0), acc3 = vec4(0);
  vec4 acc4 = vec4(0), acc5 = vec4(0), acc6 = vec4(0), acc7 = vec4(0);

  for (int q0 = begin; q0 < end; q0 += BLOCK) {
    bool lv = q0 + sub < end;
    int dy_base = ln * pc.out_batch_stride + loy * pc.out_w + lox;
#define LOAD_DY(name, row) float name = (lv && m0 + row < pc.out_channels) ? texelFetch(dy, dy_base + (m0 + row) * out_hw).r : 0.0;
    LOAD_DY(a0, 0) LOAD_DY(a1, 1) LOAD_DY(a2, 2) LOAD_DY(a3, 3)
    LOAD_DY(a4, 4) LOAD_DY(a5, 5) LOAD_DY(a6, 6) LOAD_DY(a7, 7)
#undef LOAD_DY
    lox += BLOCK;
    while (lox >= pc.out_w) {
      lox -= pc.out_w;
      if (++loy == pc.out_h) {
        loy = 0;
        ++ln;
      }
    }
#define ROW(acc, a, lane) acc = fma(vec4(subgroupBroadcast(a, lane)), b, acc);
#define CONV_STEP(j)                                                              \
    {                                                                             \
      int iy, ix;                                                                 \
      bool vy = conv_tap_forward(uoy, ky, pc.in_h, iy);                           \
      bool vx = conv_tap_forward(uox, kx, pc.in_w, ix);                           \
      bool ok = vy && vx && q0 + j < end;                                         \
      int xb = ok ? un * pc.in_batch_stride + iy * pc.in_w + ix : 0;              \
      vec4 b = vec4(texelFetch(x, xb + x_off.x).r, texelFetch(x, xb + x_off.y).r, \
                    texelFetch(x, xb + x_off.z).r, texelFetch(x, xb + x_off.w).r); \
      b = ok ? b : vec4(0);                                                       \
      ROW(acc0, a0, j) ROW(acc1, a1, j) ROW(acc2, a2, j) ROW(acc3, a3, j)         \
      ROW(acc4, a4, j) ROW(acc5, a5, j) ROW(acc6, a6, j) ROW(acc7, a7, j)         \
      if (++uox == pc.out_w) {                                                    \
        uox = 0;                                                                  \
        if (++uoy == pc.out_h) {                                                  \
          uoy = 0;                                                                \
          ++un;                                                                   \
        }                                                                         \
      }                                                                           \
    }
    CONV_STEP(0) CONV_STEP(1) CONV_STEP(2) CONV_STEP(3)
    CONV_STEP(4) CONV_STEP(5) CONV_STEP(6) CONV_STEP(7)
#undef CONV_STEP
#undef ROW
  }

  vec4 acc[8] = vec4[8](acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7);
  int slice = split * pc.out_channels * pc.in_channels * TAPS;
  for (int r = 0; r < ROWS; ++r) {
    int m = m0 + r;
    if (m >= pc.out_channels) break;
    for (int c = 0; c < COLS; ++c)
      if (live[c]) part[slice + (m * pc.in_channels + ci[c]) * TAPS + tap] = acc[r][c];
  }
}
