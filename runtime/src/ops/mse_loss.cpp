#include "tessera/ops/mse_loss.hpp"

#include <string>

#include "tessera/context.hpp"
#include "tessera/error.hpp"

namespace tessera::ops {

namespace {

// Must match kReduceLanes * kItemsPerLane in mse_loss_partial.comp.
constexpr int64_t kBlockElements = 256 * 16;
constexpr uint32_t kReduceLanes = 256;

void validate(const char* op, const Tensor& pred, const Tensor& target, const Tensor* weights) {
  require_dtype(op, pred, DType::F32);
  require_dtype(op, target, DType::F32);
  require_dense(op, pred);
  require_dense(op, target);
  require_same_shape(op, pred, target);
  if (pred.rank() < 1 || pred.numel() == 0) throw ShapeError(std::string(op) + ": " + pred.describe() + " is empty");
  if (pred.numel() >= (int64_t(1) << 32)) throw UnsupportedError(std::string(op) + ": " + pred.describe() + " too large");
  if (weights) {
    require_dtype(op, *weights, DType::F32);
    require_dense(op, *weights);
    require_shape(op, *weights, {pred.dim(0)});
  }
}

}  // namespace

int64_t mse_loss_scratch_size(int64_t numel) { return (numel + kBlockElements - 1) / kBlockElements; }

void mse_loss_forward(CommandSequence& seq, const Tensor& pred, const Tensor& target, const Tensor* weights,
                      const Tensor& loss, const Tensor& scratch) {
  const char* op = "mse_loss_forward";
  validate(op, pred, target, weights);
  require_dtype(op, loss, DType::F32);
  require_shape(op, loss, {1});
  require_dtype(op, scratch, DType::F32);
  require_dense(op, scratch);
  int64_t blocks = mse_loss_scratch_size(pred.numel());
  if (scratch.numel() < blocks)
    throw ShapeError(std::string(op) + ": scratch " + scratch.describe() + " needs at least " + std::to_string(blocks) +
                     " elements for " + pred.describe());
  uint32_t has_weights = weights ? 1 : 0;
  auto& kernels = seq.context().kernels();
  const Kernel& partial = kernels.get({"mse_loss_partial",
                                       {BindAs::Storage, BindAs::Storage, BindAs::Storage, BindAs::Storage},
                                       {kReduceLanes, 1, 1},
                                       {has_weights}});
  struct {
    uint32_t n, per_sample, block_count;
  } partial_push{uint32_t(pred.numel()), uint32_t(pred.numel() / pred.dim(0)), uint32_t(blocks)};
  // Without weights the weights binding aliases pred: bound (every binding must be) but never read.
  seq.dispatch(partial, {in(pred), in(target), in(weights ? *weights : pred), out(scratch)}, partial_push,
               groups_1d(uint64_t(blocks) * kReduceLanes, kReduceLanes));
  const Kernel& finalize =
      kernels.get({"mse_loss_finalize", {BindAs::Storage, BindAs::Storage}, {kReduceLanes, 1, 1}});
  struct {
    uint32_t block_count;
    float inv_numel;
  } final_push{uint32_t(blocks), float(1.0 / double(pred.numel()))};
  seq.dispatch(finalize, {in(scratch), out(loss)}, final_push, Groups{1, 1, 1});
}

void mse_loss_backward(CommandSequence& seq, const Tensor& pred, const Tensor& target, const Tensor* weights,
                       const Tensor& dpred, float dloss_scale, bool accumulate) {
  const char* op = "mse_loss_backward";
  validate(op, pred, target, weights);
  require_dtype(op, dpred, DType::F32);
  require_dense(op, dpred);
  require_same_shape(op, pred, dpred);
  constexpr uint32_t kLocal = 256;
  const Kernel& k = seq.context().kernels().get({"mse_loss_backward",
                                                 {BindAs::Storage, BindAs::Storage, BindAs::Storage, BindAs::Storage},
                                                 {kLocal, 1, 1},
                                                 {weights ? 1u : 0u, accumulate ? 1u : 0u}});
  struct {
    uint32_t n, per_sample;
    float scale;
  } push{uint32_t(pred.numel()), uint32_t(pred.numel() / pred.dim(0)),
         float(2.0 * double(dloss_scale) / double(pred.numel()))};
  seq.dispatch(k, {in(pred), in(target), in(weights ? *weights : pred), accumulate ? inout(dpred) : out(dpred)}, push,
               groups_1d(pred.numel(), kLocal));
}

}  // namespace tessera::ops
