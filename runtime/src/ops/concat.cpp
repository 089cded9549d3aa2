#include "tessera/ops/concat.hpp"

#include <algorithm>
#include <limits>

#include "tessera/arena.hpp"
#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/kernel.hpp"
#include "ops/per_sample_dispatch.hpp"

namespace tessera::ops {

namespace {

constexpr uint32_t kLocalSize = 256;

void require_nchw_f32(const char* op, const Tensor& t) {
  if (!t.valid()) throw ShapeError(std::string(op) + ": tensor is not allocated");
  require_dtype(op, t, DType::F32);
  if (t.rank() != 4) throw ShapeError(std::string(op) + ": " + t.describe() + " should be NCHW (rank 4)");
}

Groups sample_groups(int64_t per_sample, int64_t batch) { return per_sample_groups(per_sample, batch, kLocalSize); }

}  // namespace

uint64_t view_offset_alignment(const Context& ctx) {
  const DeviceInfo& info = ctx.info();
  return std::max<uint64_t>({16, info.min_storage_buffer_offset_alignment, info.min_texel_buffer_offset_alignment});
}

void require_bindable(const char* op, const Context& ctx, const Tensor& t) {
  uint64_t alignment = view_offset_alignment(ctx);
  if (t.offset() % alignment != 0)
    throw ShapeError(std::string(op) + ": " + t.describe() + " starts at byte " + std::to_string(t.offset()) +
                     ", which is not a multiple of " + std::to_string(alignment) +
                     " as a kernel binding needs (a channel view whose first channel * H * W is not a multiple of 4?)");
}

ConcatViews concat_channel_views(const Tensor& concat, int64_t first_channels) {
  const char* op = "concat_channel_views";
  if (!concat.valid()) throw ShapeError(std::string(op) + ": tensor is not allocated");
  if (concat.rank() < 2 || first_channels <= 0 || first_channels >= concat.dim(1))
    throw ShapeError(std::string(op) + ": cannot split " + concat.describe() + " after " +
                     std::to_string(first_channels) + " channels (both parts need at least one channel)");
  ConcatViews views{concat.channel_slice(0, first_channels).renamed(concat.name() + "[:first]"),
                    concat.channel_slice(first_channels, concat.dim(1) - first_channels)
                        .renamed(concat.name() + "[first:]")};
  const Context& ctx = concat.arena()->context();
  require_bindable(op, ctx, views.first);
  require_bindable(op, ctx, views.second);
  return views;
}

void concat_channels(CommandSequence& seq, const Tensor& a, const Tensor& b, const Tensor& out) {
  const char* op = "concat_channels";
  for (const Tensor* t : {&a, &b, &out}) require_nchw_f32(op, *t);
  Shape expected{a.dim(0), a.dim(1) + b.dim(1), a.dim(2), a.dim(3)};
  if (b.dim(0) != a.dim(0) || b.dim(2) != a.dim(2) || b.dim(3) != a.dim(3))
    throw ShapeError(std::string(op) + ": " + a.describe() + " and " + b.describe() +
                     " differ in batch or spatial size");
  require_shape(op, out, expected);
  Context& ctx = seq.context();
  for (const Tensor* t : {&a, &b, &out}) {
    require_bindable(op, ctx, *t);
    require_32bit_indexing(op, *t);
  }
  const Kernel& k = ctx.kernels().get(
      {"concat_channels", {BindAs::TexelF32, BindAs::TexelF32, BindAs::Storage}, {kLocalSize, 1, 1}});
  int64_t per_sample = out.numel() / out.dim(0);
  struct {
    uint32_t per_sample, a_per_sample, a_batch_stride, b_batch_stride, out_batch_stride;
  } push{static_cast<uint32_t>(per_sample), static_cast<uint32_t>(a.numel() / a.dim(0)),
         static_cast<uint32_t>(a.batch_stride()), static_cast<uint32_t>(b.batch_stride()),
         static_cast<uint32_t>(out.batch_stride())};
  seq.dispatch(k, {texel(a), texel(b), tessera::out(out)}, push, sample_groups(per_sample, out.dim(0)));
}

void split_channels(CommandSequence& seq, const Tensor& dout, const Tensor& da, const Tensor& db, bool accumulate) {
  const char* op = "split_channels";
  for (const Tensor* t : {&dout, &da, &db}) require_nchw_f32(op, *t);
  Shape expected{da.dim(0), da.dim(1) + db.dim(1), da.dim(2), da.dim(3)};
  if (db.dim(0) != da.dim(0) || db.dim(2) != da.dim(2) || db.dim(3) != da.dim(3))
    throw ShapeError(std::string(op) + ": " + da.describe() + " and " + db.describe() +
                     " differ in batch or spatial size");
  require_shape(op, dout, expected);
  Context& ctx = seq.context();
  for (const Tensor* t : {&dout, &da, &db}) {
    require_bindable(op, ctx, *t);
    require_32bit_indexing(op, *t);
  }
  const Kernel& k = ctx.kernels().get(
      {"concat_split_channels", {BindAs::TexelF32, BindAs::Storage, BindAs::Storage}, {kLocalSize, 1, 1}});
  int64_t per_sample = dout.numel() / dout.dim(0);
  struct {
    uint32_t per_sample, a_per_sample, dout_batch_stride, da_batch_stride, db_batch_stride, accumulate;
  } push{static_cast<uint32_t>(per_sample), static_cast<uint32_t>(da.numel() / da.dim(0)),
         static_cast<uint32_t>(dout.batch_stride()), static_cast<uint32_t>(da.batch_stride()),
         static_cast<uint32_t>(db.batch_stride()), accumulate ? 1u : 0u};
  Access grad_access = accumulate ? Access::ReadWrite : Access::Write;
  seq.dispatch(k, {texel(dout), Arg{&da, grad_access, BindAs::Storage}, Arg{&db, grad_access, BindAs::Storage}}, push,
               sample_groups(per_sample, dout.dim(0)));
}

}  // namespace tessera::ops
