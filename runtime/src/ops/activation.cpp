#include "tessera/ops/activation.hpp"

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
  if (t.rank() < 1) throw ShapeError(std::string(op) + ": " + t.describe() + " needs a batch dimension");
  require_bindable(op, ctx, t);
  require_32bit_indexing(op, t);
}

Groups sample_groups(const Tensor& t) { return per_sample_groups(t.numel() / t.dim(0), t.dim(0), kLocalSize); }

}  // namespace

void silu_forward(CommandSequence& seq, const Tensor& x, const Tensor& y) {
  const char* op = "silu_forward";
  Context& ctx = seq.context();
  require_operand(op, ctx, x);
  require_operand(op, ctx, y);
  require_same_shape(op, x, y);
  const Kernel& k = ctx.kernels().get({ctx.mode_kernel("activation_silu_fwd"), {BindAs::TexelF32, BindAs::Storage}, {kLocalSize, 1, 1}});
  struct {
    uint32_t per_sample, x_batch_stride, y_batch_stride;
  } push{static_cast<uint32_t>(x.numel() / x.dim(0)), static_cast<uint32_t>(x.batch_stride()),
         static_cast<uint32_t>(y.batch_stride())};
  seq.dispatch(k, {texel(x), out(y)}, push, sample_groups(x));
}

void silu_backward(CommandSequence& seq, const Tensor& x, const Tensor& dy, const Tensor& dx, bool accumulate) {
  const char* op = "silu_backward";
  Context& ctx = seq.context();
  for (const Tensor* t : {&x, &dy, &dx}) require_operand(op, ctx, *t);
  require_same_shape(op, x, dy);
  require_same_shape(op, x, dx);
  const Kernel& k = ctx.kernels().get(
      {"activation_silu_bwd", {BindAs::TexelF32, BindAs::TexelF32, BindAs::Storage}, {kLocalSize, 1, 1}});
  struct {
    uint32_t per_sample, x_batch_stride, dy_batch_stride, dx_batch_stride, accumulate;
  } push{static_cast<uint32_t>(x.numel() / x.dim(0)), static_cast<uint32_t>(x.batch_stride()),
         static_cast<uint32_t>(dy.batch_stride()), static_cast<uint32_t>(dx.batch_stride()), accumulate ? 1u : 0u};
  seq.dispatch(k, {texel(x), texel(dy), Arg{&dx, accumulate ? Access::ReadWrite : Access::Write, BindAs::Storage}},
               push, sample_groups(x));
}

}  // namespace tessera::ops
