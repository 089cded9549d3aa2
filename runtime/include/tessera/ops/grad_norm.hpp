// Global gradient L2 norm and clipping (torch.nn.utils.clip_grad_norm_ semantics), with no
// host round trip: the norm and the clip coefficient stay on the device.
#pragma once
#include <cstdint>
#include <limits>
#include <span>

#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera::ops {

// Layout of the f32 [2] result tensor written by grad_norm.
inline constexpr int64_t kGradNormResultSize = 2;
inline constexpr int64_t kGradNormIndex = 0;        // sqrt(sum of squares of every gradient)
inline constexpr int64_t kClipCoefficientIndex = 1; // min(1, max_norm / (norm + 1e-6))

// f32 elements the scratch tensor of grad_norm must hold for this list of gradients.
int64_t grad_norm_scratch_size(std::span<const Tensor> grads);

// result[0] = global L2 norm over all `grads`; result[1] = clip coefficient (1 when max_norm is
// +inf). `grads`: any number of dense f32 tensors of any shapes, fixed at record time.
// `scratch`: f32, >= grad_norm_scratch_size(grads) elements, passed by the caller.
//
// One partial-sum dispatch per tensor (each fills its own 64-slot-aligned range of scratch,
// so they run without barriers between them), then one finalize dispatch that sums every
// slot in a fixed order: bit-identical between runs.
// Dispatch count: with a model's parameters and gradients in one contiguous arena region,
// pass that region as a single tensor (one dispatch covers every parameter); passing the
// per-parameter tensors also works, at one dispatch (~15 us on lavapipe) each.
void grad_norm(CommandSequence& seq, std::span<const Tensor> grads, const Tensor& result, const Tensor& scratch,
               float max_norm = std::numeric_limits<float>::infinity());

// g *= result[1] for every tensor in `grads`, reading the coefficient on the device.
// (adamw_step can instead apply the coefficient while it reads the gradient, saving a pass.)
void clip_gradients(CommandSequence& seq, std::span<const Tensor> grads, const Tensor& result);

}  // namespace tessera::ops
