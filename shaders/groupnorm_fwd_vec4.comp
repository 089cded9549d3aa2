#version 450
// GroupNorm forward, optionally with SiLU fused:
//   z = gamma[c] * (x - mean_g) * rstd_g + beta[c],  y = fused_silu ? silu(z) : z,
//   mean_g, var_g over the C/G channels of group g of one sample (M = C/G*H*W elements),
//   rstd_g = 1/sqrt(var_g + eps); stats[n, g] = (mean_g, rstd_g) is saved for the backward pass.
// Indexing: NCHW f32; element (n, c, p) of x is at n * x_batch_stride + c * HW + p (x and y may be
// channel views of a larger tensor, hence the batch strides). A group is M consecutive elements.
// Tiling: one workgroup per (n, g), id = n * G + g. Exact two-pass statistics in fp32: pass 1 sums
// x for the mean, pass 2 sums (x - mean)^2 (no E[x^2] - E[x]^2 cancellation), pass 3 writes y.
// Lane l handles elements l, l + L, ... (coalesced on GPUs, consecutive texels per SIMD row on
// lavapipe); per-lane partial sums are combined by a fixed tree, so results are deterministic.
// x is read through a texel buffer (vectorized gathers on lavapipe); the group (<= 128 KiB for
// 32768 elements) stays in cache between passes.
// This is the four-wide form (see include/groupnorm.glsl): needs H*W and batch strides % 4 == 0.
#define GROUPNORM_WIDTH 4
#include "groupnorm_fwd.glsl"
