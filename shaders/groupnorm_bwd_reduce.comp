#version 450
// GroupNorm backward, pass 1: per (sample, channel) sums of the pre-activation gradient
//   dz = fused_silu ? dy * silu'(z) : dy,   xhat = (x - mean_g) * rstd_g,  z = gamma[c] * xhat + beta[c]
//   partial[n, c] = (sum_p dz, sum_p dz * xhat)        (p over the H*W pixels)
// These give dbeta, dgamma (summed over n in pass 2) and the two group means that dx needs.
// With SiLU fused, z is recomputed from x and the saved stats instead of being stored.
// Indexing: NCHW f32 with batch strides (views); stats [N, G, 2]; partial [N, C, 2] dense.
// Tiling: one workgroup per (n, c), id = n * C + c; lane l takes pixels l, l + L, ...; the lane
// sums are combined by a fixed tree (deterministic). x and dy are read through texel buffers.
#define GROUPNORM_WIDTH 1
#include "groupnorm_bwd_reduce.glsl"
