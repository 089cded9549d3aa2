#include "tessera/ops/upsample.hpp"

#include <limits>

#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/kernel.hpp"
#include "tessera/ops/concat.hpp"
#include "ops/per_sample_dispatch.hpp"

namespace tessera::ops {

namespace {

constexpr uint32_t kLocalSize = 256;

void require_operand(const char* op, const Context& ctx, const Tensor& t) {
  if (!t.valid()) throw ShapeError(std::string(op) + ": tensor is not allocated");
  require_dtype(op, t, DType::F32);
  if (t.rank() != 4) throw ShapeError(std::string(op) + ": " + t.describe() + " should be NCHW (rank 4)");
  require_bindable(op, ctx, t);
  require_32bit_indexing(op, t);
}

Shape upsampled(const Tensor& small) { return {small.dim(0), small.dim(1), 2 * small.dim(2), 2 * small.dim(3)}; }

// One invocation per element of the low-resolution tensor, samples along z.
Groups sample_groups(const Tensor& small) {
  return per_sample_groups(small.numel() / small.dim(0), small.dim(0), kLocalSize);
}

}  // namespace

void upsample_nearest2x_forward(CommandSequence& seq, const Tensor& x, const Tensor& y) {
  const char* op = "upsample_nearest2x_forward";
  Context& ctx = seq.context();
  require_operand(op, ctx, x);
  require_operand(op, ctx, y);
  require_shape(op, y, upsampled(x));
  const Kernel& k =
      ctx.kernels().get({"upsample_nearest2x_fwd", {BindAs::TexelF32, BindAs::Storage}, {kLocalSize, 1, 1}});
  struct {
    uint32_t per_sample, width, x_batch_stride, y_batch_stride;
  } push{static_cast<uint32_t>(x.numel() / x.dim(0)), static_cast<uint32_t>(x.dim(3)),
         static_cast<uint32_t>(x.batch_stride()), static_cast<uint32_t>(y.batch_stride())};
  seq.dispatch(k, {texel(x), out(y)}, push, sample_groups(x));
}

void upsample_nearest2x_backward(CommandSequence& seq, const Tensor& dy, const Tensor& dx, bool accumulate) {
  const char* op = "upsample_nearest2x_backward";
  Context& ctx = seq.context();
  require_operand(op, ctx, dy);
  require_operand(op, ctx, dx);
  require_shape(op, dy, upsampled(dx));
  const Kernel& k =
      ctx.kernels().get({"upsample_nearest2x_bwd", {BindAs::TexelF32, BindAs::Storage}, {kLocalSize, 1, 1}});
  struct {
    uint32_t per_sample, width, dy_batch_stride, dx_batch_stride, accumulate;
  } push{static_cast<uint32_t>(dx.numel() / dx.dim(0)), static_cast<uint32_t>(dx.dim(3)),
         static_cast<uint32_t>(dy.batch_stride()), static_cast<uint32_t>(dx.batch_stride()), accumulate ? 1u : 0u};
  seq.dispatch(k, {texel(dy), Arg{&dx, accumulate ? Access::ReadWrite : Access::Write, BindAs::Storage}}, push,
               sample_groups(dx));
}

}  // namespace tessera::ops
