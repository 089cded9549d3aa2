#include "tessera/ops/embedding.hpp"

#include <string>

#include "tessera/context.hpp"
#include "tessera/error.hpp"

namespace tessera::ops {

namespace {

constexpr uint32_t kLocal = 256;

void validate(const char* op, const Tensor& table, const Tensor& labels, const Tensor& rows_out) {
  require_dtype(op, table, DType::F32);
  require_dtype(op, labels, DType::U32);
  require_dtype(op, rows_out, DType::F32);
  for (const Tensor* t : {&table, &labels, &rows_out}) require_dense(op, *t);
  if (table.rank() != 2) throw ShapeError(std::string(op) + ": table " + table.describe() + " should be [rows, dim]");
  if (labels.rank() != 1) throw ShapeError(std::string(op) + ": labels " + labels.describe() + " should be [N]");
  require_shape(op, rows_out, {labels.dim(0), table.dim(1)});
  if (table.numel() >= (int64_t(1) << 32) || rows_out.numel() >= (int64_t(1) << 32))
    throw UnsupportedError(std::string(op) + ": " + table.describe() + " / " + rows_out.describe() +
                           " exceed 2^32 elements");
}

}  // namespace

void embedding_forward(CommandSequence& seq, const Tensor& table, const Tensor& labels, const Tensor& out) {
  validate("embedding_forward", table, labels, out);
  const Kernel& k = seq.context().kernels().get(
      {seq.context().mode_kernel("embedding_forward"), {BindAs::Storage, BindAs::Storage, BindAs::Storage}, {kLocal, 1, 1}});
  struct {
    uint32_t n, dim, rows;
  } push{uint32_t(out.numel()), uint32_t(table.dim(1)), uint32_t(table.dim(0))};
  seq.dispatch(k, {in(table), in(labels), tessera::out(out)}, push, groups_1d(out.numel(), kLocal));
}

void embedding_backward(CommandSequence& seq, const Tensor& labels, const Tensor& dout, const Tensor& dtable) {
  validate("embedding_backward", dtable, labels, dout);
  const Kernel& k = seq.context().kernels().get(
      {"embedding_backward", {BindAs::Storage, BindAs::Storage, BindAs::Storage}, {kLocal, 1, 1}});
  struct {
    uint32_t n, dim, samples;
  } push{uint32_t(dtable.numel()), uint32_t(dtable.dim(1)), uint32_t(labels.dim(0))};
  seq.dispatch(k, {in(labels), in(dout), tessera::out(dtable)}, push, groups_1d(dtable.numel(), kLocal));
}

}  // namespace tessera::ops
