#version 450
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
// Cpu variant (lavapipe) of the conv2d gradient w.r.t. the weight, one split of a split-K sum:
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
// shared memory (see conv2d_implicit_cpu.comp for why).
#include "common.glsl"
#include "conv2d.glsl"

layout(constant_id = 6) const int ROWS = 8;  // output channels per lane
layout(constant_id = 7) const int COLS = 2;  // input channels per lane

layout(binding = 0) uniform samplerBuffer x;
layout(binding = 1) uniform samplerBuffer dy;
layout(std430, binding = 2) writeonly buffer Part { float part[]; };

layout(push_constant) uniform Push {
  int batch;
  int in_channels, in_h, in_w;
  int out_channels, out_h, out_w;
  int in_batch_stride, out_batch_stride;
  int flags;
  int split_pixels;
} pc;

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

  int ci[COLS], x_off[COLS];
  bool live[COLS];
  int ci_base = int(gl_WorkGroupID.x) * wg * COLS + lane;
  for (int c = 0; c < COLS; ++c) {
    ci[c] = ci_base + c * wg;
    live[c] = ci[c] < pc.in_channels;
    x_off[c] = min(ci[c], pc.in_channels - 1) * in_hw;
  }

  // Walker of the pixel whose dy this lane fetches (q0 + sub), and the uniform walker of q0 + j.
  int lq = min(begin + sub, total - 1);
  int ln = lq / out_hw, loy = (lq - ln * out_hw) / pc.out_w, lox = lq - ln * out_hw - loy * pc.out_w;
  int un = begin / out_hw, uoy = (begin - un * out_hw) / pc.out_w, uox = begin - un * out_hw - uoy * pc.out_w;

  float acc[ROWS][COLS];
  for (int r = 0; r < ROWS; ++r)
    for (int c = 0; c < COLS; ++c) acc[r][c] = 0.0;

  for (int q0 = begin; q0 < end; q0 += BLOCK) {
    bool lv = q0 + sub < end;
    int dy_base = ln * pc.out_batch_stride + loy * pc.out_w + lox;
    float a[ROWS];
    for (int r = 0; r < ROWS; ++r) {
      bool v = lv && m0 + r < pc.out_channels;
      a[r] = texelFetch(dy, v ? dy_base + (m0 + r) * out_hw : 0).r;
      a[r] = v ? a[r] : 0.0;
    }
    lox += BLOCK;
    while (lox >= pc.out_w) {
      lox -= pc.out_w;
      if (++loy == pc.out_h) {
        loy = 0;
        ++ln;
      }
    }
#define CONV_STEP(j)                                                              \
    {                                                                             \
      int iy, ix;                                                                 \
      bool vy = conv_tap_forward(uoy, ky, pc.in_h, iy);                           \
      bool vx = conv_tap_forward(uox, kx, pc.in_w, ix);                           \
      bool ok = vy && vx && q0 + j < end;                                         \
      int xb = ok ? un * pc.in_batch_stride + iy * pc.in_w + ix : 0;              \
      float b[COLS];                                                              \
      for (int c = 0; c < COLS; ++c) {                                            \
        b[c] = texelFetch(x, xb + x_off[c]).r;                                    \
        b[c] = ok ? b[c] : 0.0;                                                   \
      }                                                                           \
      for (int r = 0; r < ROWS; ++r) {                                            \
        float ar = subgroupBroadcast(a[r], j);                                    \
        for (int c = 0; c < COLS; ++c) acc[r][c] = fma(ar, b[c], acc[r][c]);      \
      }                                                                           \
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
  }

  int slice = split * pc.out_channels * pc.in_channels * TAPS;
  for (int r = 0; r < ROWS; ++r) {
    int m = m0 + r;
    if (m >= pc.out_channels) break;
    for (int c = 0; c < COLS; ++c)
      if (live[c]) part[slice + (m * pc.in_channels + ci[c]) * TAPS + tap] = acc[r][c];
  }
}
