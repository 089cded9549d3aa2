#include "tessera/ops/groupnorm.hpp"

#include <algorithm>
#include <initializer_list>
#include <string>
#include <limits>

#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/kernel.hpp"
#include "tessera/ops/concat.hpp"
#include "ops/per_sample_dispatch.hpp"

namespace tessera::ops {

namespace {

// Lanes per workgroup (a power of two: the shaders' reduction tree halves it). Lavapipe runs a
// workgroup as a loop over SIMD rows of subgroup-size lanes on one thread and switches rows at
// every barrier, so the TexelFetch variant uses one row (measured on the 2-core box at [4,128,32,32],
// G=32, SiLU: 8 lanes ~4 ms forward, 64 lanes ~6 ms, 128 lanes ~9 ms; the runs were noisy).
// GPUs want many lanes per (n, g) to hide memory latency.
uint32_t local_size(const Context& ctx) {
  uint32_t wanted = 256;
  if (ctx.variant() == KernelVariant::TexelFetch) {
    wanted = 8;
    while (wanted < ctx.info().subgroup_size && wanted < 64) wanted *= 2;
  }
  uint32_t limit = std::max<uint32_t>(ctx.info().max_workgroup_invocations, 1);
  while (wanted > limit) wanted /= 2;
  return wanted;
}

void require_activation(const char* op, const Context& ctx, const Tensor& t, const Shape& expected) {
  require_shape(op, t, expected);
  require_dtype(op, t, DType::F32);
  require_bindable(op, ctx, t);
  require_32bit_indexing(op, t);
}

void require_small(const char* op, const Context& ctx, const Tensor& t, const Shape& expected) {
  require_shape(op, t, expected);
  require_dtype(op, t, DType::F32);
  require_dense(op, t);
  require_bindable(op, ctx, t);
}

// Validates x and the group count; returns C / G.
int64_t check_input(const char* op, const Tensor& x, const GroupNormParams& params) {
  if (!x.valid()) throw ShapeError(std::string(op) + ": x is not allocated");
  if (x.rank() != 4) throw ShapeError(std::string(op) + ": " + x.describe() + " should be NCHW (rank 4)");
  int64_t channels = x.dim(1);
  if (params.groups <= 0 || channels % params.groups != 0)
    throw ShapeError(std::string(op) + ": " + std::to_string(params.groups) + " groups do not divide the " +
                     std::to_string(channels) + " channels of " + x.describe());
  if (!(params.eps >= 0.0f)) throw ShapeError(std::string(op) + ": eps must be >= 0, got " + std::to_string(params.eps));
  return channels / params.groups;
}

uint32_t u32(int64_t v) { return static_cast<uint32_t>(v); }

// The four-wide kernels (groupnorm_*_vec4) need every channel plane and sample to start on a
// 16-byte boundary: H*W and all batch strides multiples of 4 (offsets are already 16-aligned).
// They are ~5x faster on lavapipe; odd image sizes use the scalar kernels.
struct Width {
  const char* suffix;
  BindAs texel;
};
Width element_width(int64_t hw, std::initializer_list<const Tensor*> tensors) {
  bool four = hw % 4 == 0;
  for (const Tensor* t : tensors) four = four && t->batch_stride() % 4 == 0;
  return four ? Width{"_vec4", BindAs::TexelVec4} : Width{"", BindAs::TexelF32};
}

}  // namespace

Shape groupnorm_stats_shape(const Shape& x_shape, const GroupNormParams& params) {
  return {x_shape.empty() ? 0 : x_shape[0], params.groups, 2};
}

Shape groupnorm_backward_scratch_shape(const Shape& x_shape) {
  if (x_shape.size() < 2) throw ShapeError("groupnorm_backward_scratch_shape: " + shape_string(x_shape) + " is not NCHW");
  return {x_shape[0], x_shape[1], 2};
}

void groupnorm_forward(CommandSequence& seq, const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& y,
                       const Tensor& stats, const GroupNormParams& params) {
  const char* op = "groupnorm_forward";
  check_input(op, x, params);
  Context& ctx = seq.context();
  const Shape& shape = x.shape();
  require_activation(op, ctx, x, shape);
  require_activation(op, ctx, y, shape);
  require_small(op, ctx, gamma, {shape[1]});
  require_small(op, ctx, beta, {shape[1]});
  require_small(op, ctx, stats, groupnorm_stats_shape(shape, params));

  // Portable mode: the scalar kernel on 64 lanes whatever the variant and device, the sum's
  // tree of docs/portable.md.
  const bool portable = ctx.portable();
  uint32_t lanes = portable ? 64 : local_size(ctx);
  Width width = portable ? Width{"", BindAs::TexelF32} : element_width(shape[2] * shape[3], {&x, &y});
  const Kernel& k = ctx.kernels().get(
      {portable ? ctx.mode_kernel("groupnorm_fwd") : std::string("groupnorm_fwd") + width.suffix,
       {width.texel, BindAs::Storage, BindAs::Storage, BindAs::Storage, BindAs::Storage},
       {lanes, 1, 1}});
  struct {
    uint32_t channels, hw, groups, x_batch_stride, y_batch_stride;
    float eps;
    uint32_t fused_silu;
    float inv_count;
  } push{u32(shape[1]),
         u32(shape[2] * shape[3]),
         u32(params.groups),
         u32(x.batch_stride()),
         u32(y.batch_stride()),
         params.eps,
         params.fused_silu ? 1u : 0u,
         static_cast<float>(1.0 / (double(shape[1] / params.groups) * double(shape[2] * shape[3])))};
  seq.dispatch(k, {Arg{&x, Access::Read, width.texel}, in(gamma), in(beta), out(y), out(stats)}, push,
               Groups{u32(shape[0] * params.groups), 1, 1});
}

void groupnorm_backward(CommandSequence& seq, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                        const Tensor& stats, const Tensor& dy, const Tensor& dx, const Tensor& dgamma,
                        const Tensor& dbeta, const Tensor& scratch, const GroupNormParams& params, bool accumulate) {
  const char* op = "groupnorm_backward";
  check_input(op, x, params);
  Context& ctx = seq.context();
  const Shape& shape = x.shape();
  require_activation(op, ctx, x, shape);
  require_activation(op, ctx, dy, shape);
  require_activation(op, ctx, dx, shape);
  for (const Tensor* t : {&gamma, &beta, &dgamma, &dbeta}) require_small(op, ctx, *t, {shape[1]});
  require_small(op, ctx, stats, groupnorm_stats_shape(shape, params));
  require_small(op, ctx, scratch, groupnorm_backward_scratch_shape(shape));

  uint32_t lanes = local_size(ctx);
  Width width = element_width(shape[2] * shape[3], {&x, &dy, &dx});
  Arg x_arg{&x, Access::Read, width.texel}, dy_arg{&dy, Access::Read, width.texel};
  const Kernel& reduce = ctx.kernels().get(
      {std::string("groupnorm_bwd_reduce") + width.suffix,
       {width.texel, width.texel, BindAs::Storage, BindAs::Storage, BindAs::Storage, BindAs::Storage},
       {lanes, 1, 1}});
  struct {
    uint32_t channels, hw, groups, x_batch_stride, dy_batch_stride, fused_silu;
  } reduce_push{u32(shape[1]), u32(shape[2] * shape[3]), u32(params.groups), u32(x.batch_stride()),
                u32(dy.batch_stride()), params.fused_silu ? 1u : 0u};
  seq.dispatch(reduce, {x_arg, dy_arg, in(gamma), in(beta), in(stats), out(scratch)}, reduce_push,
               Groups{u32(shape[0] * shape[1]), 1, 1});

  const Kernel& input_grad = ctx.kernels().get(
      {std::string("groupnorm_bwd_dx") + width.suffix,
       {width.texel, width.texel, BindAs::Storage, BindAs::Storage, BindAs::Storage, BindAs::Storage,
        BindAs::Storage, BindAs::Storage, BindAs::Storage},
       {lanes, 1, 1}});
  struct {
    uint32_t batch, channels, hw, groups, x_batch_stride, dy_batch_stride, dx_batch_stride, fused_silu, accumulate;
  } dx_push{u32(shape[0]), u32(shape[1]), u32(shape[2] * shape[3]), u32(params.groups), u32(x.batch_stride()),
            u32(dy.batch_stride()), u32(dx.batch_stride()), params.fused_silu ? 1u : 0u, accumulate ? 1u : 0u};
  seq.dispatch(input_grad,
               {x_arg, dy_arg, in(gamma), in(beta), in(stats), in(scratch),
                Arg{&dx, accumulate ? Access::ReadWrite : Access::Write, BindAs::Storage}, out(dgamma), out(dbeta)},
               dx_push, Groups{u32(shape[0] * params.groups), 1, 1});
}

}  // namespace tessera::ops
