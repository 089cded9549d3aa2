// Multi-head self-attention over the spatial positions of a feature map, as the DDPM U-Net
// uses it (after a 1x1 conv that produces q, k and v). All tensors f32, dense.
//
// Layouts (N samples, C channels, H x W positions, T = H*W tokens, token t = y*W + x,
// `heads` heads of d = C / heads channels):
//   qkv         [N, 3C, H, W]  q = channels [0, C), k = [C, 2C), v = [2C, 3C); head h uses
//                              channels h*d .. h*d+d-1 of each. So q of head h is a
//                              d x T row-major matrix, as are k and v.
//   o           [N, C, H, W]   o[n, h*d+c, t] = sum_s P[n,h,t,s] * v[n, h*d+c, s]
//   probs       [N, heads, T, T]  P[n,h,t,s] = softmax over s of
//                              sum_c q[n,h*d+c,t] * k[n,h*d+c,s] / sqrt(d)   (rows max-subtracted)
//   grad_scores [N, heads, T, T]  backward scratch (dL/dP, then dL/dscores)
//
// Forward writes o and keeps the probabilities in `probs` (the caller's tensor, which must
// stay untouched until the backward pass reads it). Backward writes dqkv (overwrite, or add
// into it with accumulate) and uses grad_scores as scratch. attention_scratch_shapes() says
// which shapes the caller must allocate.
//
// attention_forward_fused (inference) writes the same o without the probabilities: one
// dispatch, an online softmax over blocks of keys (running maximum and sum, accumulator
// rescaled once per block), so memory stays O(N * C * T) however long the sequence. Its sums
// run in a different order than the unfused path's (blocks of keys, exp2 of scores in log2
// units), so the two agree to fp32 rounding (~1e-6 relative), not bit for bit; each is
// deterministic run to run. No backward: training uses attention_forward.
//
// Dispatches: forward = matmul (scores) + row softmax + matmul (P V); backward = 4 matmuls +
// softmax backward. Every matmul covers all N*heads (sample, head) pairs at once. Each
// element is a fixed-order sum: results are identical run to run.
#pragma once
#include <cstdint>

#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera::ops {

struct AttentionScratchShapes {
  Shape probs;        // [N, heads, T, T], written by forward, read by backward
  Shape grad_scores;  // [N, heads, T, T], backward scratch
};
// Throws ShapeError if qkv is not [N, 3C, H, W] with C divisible by heads.
AttentionScratchShapes attention_scratch_shapes(const Shape& qkv, int64_t heads);

void attention_forward(CommandSequence& seq, const Tensor& qkv, const Tensor& probs, const Tensor& o, int64_t heads);

// o = attention(qkv) without probabilities (inference). Any T >= 1 and head dim d; the
// SharedTiles variant needs 2 * 16 * d floats of shared memory (d <= 128 on every Vulkan device).
void attention_forward_fused(CommandSequence& seq, const Tensor& qkv, const Tensor& o, int64_t heads);

// d_o: gradient of o ([N, C, H, W]); dqkv: gradient of qkv ([N, 3C, H, W]).
void attention_backward(CommandSequence& seq, const Tensor& qkv, const Tensor& probs, const Tensor& d_o,
                        const Tensor& grad_scores, const Tensor& dqkv, int64_t heads, bool accumulate);

}  // namespace tessera::ops
