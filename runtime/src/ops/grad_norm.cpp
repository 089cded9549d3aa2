#include "tessera/ops/grad_norm.hpp"

#include <string>

#include "tessera/context.hpp"
#include "tessera/error.hpp"

namespace tessera::ops {

namespace {

// Must match kReduceLanes and kItemsPerLane in grad_norm_partial.comp.
constexpr uint32_t kReduceLanes = 256;
constexpr int64_t kBlockElements = int64_t(kReduceLanes) * 16;
// Each tensor's partial sums start at a multiple of 64 f32 = 256 bytes, so each per-tensor
// scratch view satisfies any storage-buffer offset alignment and the views do not overlap
// (no barrier between the per-tensor dispatches). Workgroup 0 zeroes its tensor's padding.
constexpr int64_t kSlotAlignment = 64;

int64_t block_count(const Tensor& g) { return (g.numel() + kBlockElements - 1) / kBlockElements; }
int64_t slot_count(const Tensor& g) { return (block_count(g) + kSlotAlignment - 1) / kSlotAlignment * kSlotAlignment; }

void validate_grads(const char* op, std::span<const Tensor> grads) {
  if (grads.empty()) throw ShapeError(std::string(op) + ": the list of gradient tensors is empty");
  for (const Tensor& g : grads) {
    if (!g.valid()) throw ShapeError(std::string(op) + ": a gradient tensor is not allocated");
    require_dtype(op, g, DType::F32);
    require_dense(op, g);
    if (g.numel() >= (int64_t(1) << 32)) throw UnsupportedError(std::string(op) + ": " + g.describe() + " too large");
  }
}

void validate_result(const char* op, const Tensor& result) {
  require_dtype(op, result, DType::F32);
  require_shape(op, result, {kGradNormResultSize});
}

}  // namespace

int64_t grad_norm_scratch_size(std::span<const Tensor> grads) {
  int64_t total = 0;
  for (const Tensor& g : grads) total += slot_count(g);
  return std::max<int64_t>(total, 1);
}

void grad_norm(CommandSequence& seq, std::span<const Tensor> grads, const Tensor& result, const Tensor& scratch,
               float max_norm) {
  const char* op = "grad_norm";
  validate_grads(op, grads);
  validate_result(op, result);
  require_dtype(op, scratch, DType::F32);
  require_dense(op, scratch);
  int64_t needed = grad_norm_scratch_size(grads);
  if (scratch.numel() < needed)
    throw ShapeError(std::string(op) + ": scratch " + scratch.describe() + " needs at least " + std::to_string(needed) +
                     " elements for " + std::to_string(grads.size()) + " gradient tensors");
  if (!(max_norm > 0)) throw Error(std::string(op) + ": max_norm must be positive (+inf: no clipping)");
  auto& kernels = seq.context().kernels();
  const Kernel& partial =
      kernels.get({"grad_norm_partial", {BindAs::Storage, BindAs::Storage}, {kReduceLanes, 1, 1}});
  Tensor slots = scratch.reshape({scratch.numel()});
  int64_t first = 0;
  for (const Tensor& g : grads) {
    if (g.numel() == 0) continue;
    Tensor range = slots.batch_slice(first, slot_count(g));
    struct {
      uint32_t n, block_count, slot_count;
    } push{uint32_t(g.numel()), uint32_t(block_count(g)), uint32_t(slot_count(g))};
    seq.dispatch(partial, {in(g), out(range)}, push, groups_1d(uint64_t(block_count(g)) * kReduceLanes, kReduceLanes));
    first += slot_count(g);
  }
  if (first == 0) throw ShapeError(std::string(op) + ": every gradient tensor is empty");
  const Kernel& finalize =
      kernels.get({"grad_norm_finalize", {BindAs::Storage, BindAs::Storage}, {kReduceLanes, 1, 1}});
  struct {
    uint32_t slot_count;
    float max_norm;
  } final_push{uint32_t(first), max_norm};
  seq.dispatch(finalize, {in(slots.batch_slice(0, first)), out(result)}, final_push, Groups{1, 1, 1});
}

void clip_gradients(CommandSequence& seq, std::span<const Tensor> grads, const Tensor& result) {
  const char* op = "clip_gradients";
  validate_grads(op, grads);
  validate_result(op, result);
  constexpr uint32_t kLocal = 256;
  const Kernel& k = seq.context().kernels().get({"grad_norm_clip", {BindAs::Storage, BindAs::Storage}, {kLocal, 1, 1}});
  for (const Tensor& g : grads) {
    struct {
      uint32_t n;
    } push{uint32_t(g.numel())};
    seq.dispatch(k, {in(result), inout(g)}, push, groups_1d(g.numel(), kLocal));
  }
}

}  // namespace tessera::ops
