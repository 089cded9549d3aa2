#version 450
// GroupNorm backward, pass 2: input gradient and parameter gradients.
//   dxhat = gamma[c] * dz,   A = sum_{c in g} gamma[c] * partial[n, c].x = sum_group dxhat
//                            B = sum_{c in g} gamma[c] * partial[n, c].y = sum_group dxhat * xhat
//   dx = rstd_g * (dxhat - A / M - xhat * B / M)        (+ the old dx when accumulating)
//   dbeta[c] = sum_n partial[n, c].x,  dgamma[c] = sum_n partial[n, c].y   (overwritten)
// dz and xhat are recomputed as in pass 1 (groupnorm_bwd_reduce.comp).
// Indexing: NCHW f32 with batch strides (views) for x, dy, dx; stats [N, G, 2]; partial [N, C, 2].
// Tiling: one workgroup per (n, g), id = n * G + g. Every lane forms A and B itself from the C/G
// partials in channel order (a handful of loads, no barrier, same order everywhere), then writes
// pixels lane, lane + L, ... of each channel. Workgroups of sample 0 also reduce dgamma/dbeta of
// their group's channels over n in order 0..N-1: deterministic, no atomics, no extra dispatch.
#define GROUPNORM_WIDTH 1
#include "groupnorm_bwd_dx.glsl"
