// conv2d: argument checks and dispatch plans for the forward pass and the three gradients.
// Shaders, TexelFetch variant: conv2d_s1_vec4_texel_fetch, conv2d_bwd_weight_s1_k3_vec4_texel_fetch
// (3x3) and conv2d_bwd_weight_s1_k1_vec4_texel_fetch (1x1) (stride 1, width a multiple of 8:
// vec4 texel fetches), conv2d_implicit_texel_fetch and conv2d_bwd_weight_texel_fetch (any
// shape). SharedTiles variant, also the fallback without subgroups: conv2d_gemm_shared_tiles.
// Both variants: conv2d_reduce_splits (split-K second pass), conv2d_bwd_bias.
#include "tessera/ops/conv2d.hpp"

#include <algorithm>
#include <climits>
#include <string>

#include "tessera/context.hpp"
#include "tessera/error.hpp"

// ConvPush, kConvAccumulate, kConvBias: declared once for C++ and the shaders.
#include "../../../shaders/include/conv2d_push.h"

namespace tessera::ops {

namespace {

static_assert(sizeof(ConvPush) <= kMaxPushConstantBytes);

// TexelFetch kernels: workgroup size, and the weight-gradient register tile (8 x kTexelCols).
constexpr uint32_t kTexelCols = 4;  // input channels per lane of conv2d_bwd_weight_texel_fetch
constexpr uint32_t kTexelLanes = 64;
constexpr uint32_t kTileSize = 64;  // conv2d_gemm_shared_tiles: 64x64 tile, 256 lanes
constexpr uint32_t kTileLanes = 256;

bool use_texel_fetch_kernels(const Context& ctx) {
  const DeviceInfo& info = ctx.info();
  return ctx.variant() == KernelVariant::TexelFetch && info.subgroup_basic && info.subgroup_size >= 8;
}

std::vector<uint32_t> shape_constants(const Conv2dParams& p) {
  return {static_cast<uint32_t>(p.kernel), static_cast<uint32_t>(p.stride),
          p.padding == Padding::Circular ? 1u : 0u};
}

std::string params_string(const Conv2dParams& p) {
  return std::to_string(p.kernel) + "x" + std::to_string(p.kernel) + " stride " + std::to_string(p.stride) + " " +
         padding_name(p.padding);
}

void check_params(const char* op, const Conv2dParams& p) {
  if (p.kernel != 1 && p.kernel != 3)
    throw ShapeError(std::string(op) + ": kernel size " + std::to_string(p.kernel) + " unsupported (1 or 3)");
  if (p.stride != 1 && p.stride != 2)
    throw ShapeError(std::string(op) + ": stride " + std::to_string(p.stride) + " unsupported (1 or 2)");
}

void check_rank4_f32(const char* op, const Tensor& t) {
  if (!t.valid()) throw ShapeError(std::string(op) + ": tensor is not allocated");
  require_dtype(op, t, DType::F32);
  if (t.rank() != 4) throw ShapeError(std::string(op) + ": " + t.describe() + " should be NCHW (rank 4)");
  if (static_cast<int64_t>(t.span_bytes() / 4) >= INT32_MAX)
    throw UnsupportedError(std::string(op) + ": " + t.describe() + " has more elements than 32-bit indexing covers");
}

// Checks x / w / y (forward naming) fit together; throws ShapeError naming them otherwise.
void check_conv(const char* op, const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dParams& p) {
  check_params(op, p);
  check_rank4_f32(op, x);
  check_rank4_f32(op, y);
  if (!w.valid()) throw ShapeError(std::string(op) + ": weight tensor is not allocated");
  require_dtype(op, w, DType::F32);
  require_dense(op, w);
  if (w.rank() != 4 || w.dim(1) != x.dim(1) || w.dim(2) != p.kernel || w.dim(3) != p.kernel)
    throw ShapeError(std::string(op) + ": weight " + w.describe() + " should have shape [Co, " +
                     std::to_string(x.dim(1)) + ", " + std::to_string(p.kernel) + ", " + std::to_string(p.kernel) +
                     "] for input " + x.describe() + " and a " + params_string(p) + " conv");
  Shape expected = conv2d_output_shape(x.shape(), w.dim(0), p);
  if (y.shape() != expected)
    throw ShapeError(std::string(op) + ": " + y.describe() + " should have shape " + shape_string(expected) +
                     " for input " + x.describe() + ", weight " + w.describe() + ", " + params_string(p));
}

ConvPush make_push(const Tensor& x, const Tensor& y) {
  ConvPush push{};
  push.batch = static_cast<int32_t>(x.dim(0));
  push.in_channels = static_cast<int32_t>(x.dim(1));
  push.in_h = static_cast<int32_t>(x.dim(2));
  push.in_w = static_cast<int32_t>(x.dim(3));
  push.out_channels = static_cast<int32_t>(y.dim(1));
  push.out_h = static_cast<int32_t>(y.dim(2));
  push.out_w = static_cast<int32_t>(y.dim(3));
  push.in_batch_stride = static_cast<int32_t>(x.batch_stride());
  push.out_batch_stride = static_cast<int32_t>(y.batch_stride());
  return push;
}

// Portable mode changes the forward pass only (mode 0; docs/portable.md).
const Kernel& shared_tiles_gemm_kernel(Context& ctx, const Conv2dParams& p, uint32_t mode) {
  std::vector<uint32_t> constants = shape_constants(p);
  constants.push_back(mode);
  return ctx.kernels().get({mode == 0 ? ctx.mode_kernel("conv2d_gemm_shared_tiles") : "conv2d_gemm_shared_tiles",
                            {BindAs::Storage, BindAs::Storage, BindAs::Storage, BindAs::Storage},
                            {kTileLanes, 1, 1},
                            constants});
}

// The stride-1 vec4 kernel reads runs of 8 source pixels as aligned vec4 texels: the width must
// be a multiple of 8, the batch stride and the view's start multiples of 4 floats.
bool vec4_path_fits(const Tensor& src, const ConvPush& push, const Conv2dParams& p) {
  return p.stride == 1 && push.in_w % 8 == 0 && src.batch_stride() % 4 == 0 && src.offset() % 16 == 0;
}

// Forward and data gradient share the TexelFetch kernels (transposed = data gradient).
void record_texel_fetch_implicit(CommandSequence& seq, const Tensor& src, const Tensor& w, const Tensor& bias,
                                 const Tensor& dst, bool dst_read, const ConvPush& push, const Conv2dParams& p,
                                 bool transposed) {
  int64_t m_count = transposed ? push.in_channels : push.out_channels;
  std::vector<uint32_t> constants = shape_constants(p);
  constants.push_back(transposed ? 1u : 0u);
  Context& ctx = seq.context();
  // Portable mode: the vec4 kernel's order (ky, channel, kx) is not the contract's (ky, kx,
  // channel), so the forward pass takes the implicit kernel, built with PORTABLE=1.
  const bool portable_forward = ctx.portable() && !transposed;
  if (!portable_forward && vec4_path_fits(src, push, p)) {
    constexpr uint32_t rows = 4;  // fixed in the shader
    // Even heights: a lane owns two pixel rows, so each weight broadcast feeds twice the work.
    uint32_t pixel_rows = push.in_h % 2 == 0 ? 2 : 1;
    constants.push_back(pixel_rows);
    const Kernel& k =
        ctx.kernels().get({"conv2d_s1_vec4_texel_fetch",
                           {BindAs::TexelVec4, BindAs::TexelF32, BindAs::TexelF32, BindAs::TexelF32, BindAs::Storage},
                           {kTexelLanes, 1, 1},
                           constants});
    int64_t runs = int64_t(push.batch) * push.in_h * push.in_w / 8 / pixel_rows;
    Groups g{div_up(runs, kTexelLanes), div_up(m_count, rows), 1};
    seq.dispatch(k, {texel4(src), texel(src), texel(w), texel(bias), dst_read ? inout(dst) : out(dst)}, push, g);
    return;
  }
  constexpr uint32_t rows = 8, cols = 4;  // fixed in the shader
  int64_t pixels = transposed ? int64_t(push.batch) * push.in_h * push.in_w
                              : int64_t(push.batch) * push.out_h * push.out_w;
  // Stride-2 data gradient: one workgroup layer (z) per pixel parity class; the largest class
  // (even rows, even columns) sets the grid.
  bool parity_split = transposed && p.stride == 2;
  if (parity_split) pixels = int64_t(push.batch) * ((push.in_h + 1) / 2) * ((push.in_w + 1) / 2);
  const Kernel& k = ctx.kernels().get({portable_forward ? ctx.mode_kernel("conv2d_implicit_texel_fetch")
                                                        : std::string("conv2d_implicit_texel_fetch"),
                                       {BindAs::TexelF32, BindAs::TexelF32, BindAs::TexelF32, BindAs::Storage},
                                       {kTexelLanes, 1, 1},
                                       constants});
  Groups g{div_up(pixels, kTexelLanes * cols), div_up(m_count, rows), parity_split ? 4u : 1u};
  seq.dispatch(k, {texel(src), texel(w), texel(bias), dst_read ? inout(dst) : out(dst)}, push, g);
}

enum class WeightGradKernel { TexelFetchVec4K3, TexelFetchVec4K1, TexelFetch, SharedTiles };

struct WeightGradPlan {
  WeightGradKernel kernel;
  uint32_t lanes;        // local size
  Groups tiles;          // workgroups of one split (z: taps for TexelFetch, else 1)
  int64_t splits;
  int64_t split_units;  // pixels per split (TexelFetchVec4K*: output rows per split)
};

// Splits the sum over `units` (pixels or rows) so that about `target_groups` workgroups run,
// in chunks that are multiples of `granule` and not smaller than `min_chunk`.
void choose_splits(WeightGradPlan& plan, int64_t units, int64_t target_groups, int64_t granule, int64_t min_chunk) {
  int64_t tiles = int64_t(plan.tiles.x) * plan.tiles.y * plan.tiles.z;
  int64_t splits = std::clamp<int64_t>((target_groups + tiles - 1) / tiles, 1, std::max<int64_t>(1, units / min_chunk));
  int64_t chunk = (units + splits - 1) / splits;
  chunk = (chunk + granule - 1) / granule * granule;
  plan.split_units = chunk;
  plan.splits = (units + chunk - 1) / chunk;
}

// The plan depends on shapes and the device only, so the scratch size can be queried up front.
WeightGradPlan plan_weight_grad(const Context& ctx, int64_t batch, int64_t ci, int64_t co, int64_t out_h,
                                int64_t out_w, const Conv2dParams& p, WeightGradKernel kind) {
  WeightGradPlan plan{};
  plan.kernel = kind;
  int64_t taps = int64_t(p.kernel) * p.kernel;
  if (kind == WeightGradKernel::TexelFetchVec4K3) {
    uint32_t lanes = 8;
    while (lanes < kTexelLanes && lanes < ci) lanes *= 2;
    plan.lanes = lanes;
    plan.tiles = {div_up(ci, lanes), div_up(co, 8), 1};  // all 3 kernel rows per lane
    choose_splits(plan, batch * out_h, 64, 1, 4);
  } else if (kind == WeightGradKernel::TexelFetchVec4K1) {
    uint32_t lanes = 8;
    while (lanes < kTexelLanes && lanes * 4 < ci) lanes *= 2;
    plan.lanes = lanes;
    plan.tiles = {div_up(ci, lanes * 4), div_up(co, 8), 1};  // 4 input channels per lane
    choose_splits(plan, batch * out_h, 64, 1, 4);
  } else if (kind == WeightGradKernel::TexelFetch) {
    uint32_t lanes = std::max<uint32_t>(8, ctx.info().subgroup_size);
    while (lanes < kTexelLanes && int64_t(lanes) * kTexelCols < ci) lanes *= 2;
    plan.lanes = lanes;
    plan.tiles = {div_up(ci, lanes * kTexelCols), div_up(co, 8), static_cast<uint32_t>(taps)};
    choose_splits(plan, batch * out_h * out_w, 64, 8, 64);  // granule: the kernel's pixel block
  } else {
    plan.lanes = kTileLanes;
    plan.tiles = {div_up(ci * taps, kTileSize), div_up(co, kTileSize), 1};
    choose_splits(plan, batch * out_h * out_w, 512, 16, 64);  // fill a large GPU; granule: k step
  }
  return plan;
}

// The candidate kernels for these shapes on this context, fastest first (alignment of the
// actual views decides between the first two at record time).
std::vector<WeightGradKernel> weight_grad_candidates(const Context& ctx, int64_t in_w, const Conv2dParams& p) {
  if (ctx.variant() == KernelVariant::TexelFetch && p.stride == 1 && in_w % 8 == 0) {
    WeightGradKernel vec4 = p.kernel == 3 ? WeightGradKernel::TexelFetchVec4K3 : WeightGradKernel::TexelFetchVec4K1;
    if (use_texel_fetch_kernels(ctx)) return {vec4, WeightGradKernel::TexelFetch};
    return {vec4, WeightGradKernel::SharedTiles};
  }
  return {use_texel_fetch_kernels(ctx) ? WeightGradKernel::TexelFetch : WeightGradKernel::SharedTiles};
}

}  // namespace

const char* padding_name(Padding p) { return p == Padding::Circular ? "circular" : "zeros"; }

int64_t conv2d_output_size(int64_t in, const Conv2dParams& p) {
  check_params("conv2d", p);
  if (p.padding == Padding::Circular) {
    if (p.stride == 2 && in % 2 != 0)
      throw ShapeError("conv2d: circular padding with stride 2 needs even spatial sizes, got " + std::to_string(in));
    return in / p.stride;
  }
  int64_t pad = p.kernel / 2;
  int64_t out = (in + 2 * pad - p.kernel) / p.stride + 1;
  if (out <= 0) throw ShapeError("conv2d: spatial size " + std::to_string(in) + " too small for " + params_string(p));
  return out;
}

Shape conv2d_output_shape(const Shape& input, int64_t out_channels, const Conv2dParams& p) {
  if (input.size() != 4) throw ShapeError("conv2d: input shape " + shape_string(input) + " is not NCHW");
  return {input[0], out_channels, conv2d_output_size(input[2], p), conv2d_output_size(input[3], p)};
}

double conv2d_flops(const Shape& input, int64_t out_channels, const Conv2dParams& p) {
  Shape out = conv2d_output_shape(input, out_channels, p);
  return 2.0 * double(input[0]) * double(out_channels) * double(input[1]) * p.kernel * p.kernel * double(out[2]) *
         double(out[3]);
}

void conv2d_forward(CommandSequence& seq, const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y,
                    const Conv2dParams& p) {
  const char* op = "conv2d_forward";
  check_conv(op, x, w, y, p);
  if (bias) {
    require_dtype(op, *bias, DType::F32);
    require_shape(op, *bias, {w.dim(0)});
  }
  ConvPush push = make_push(x, y);
  push.flags = bias ? kConvBias : 0;
  const Tensor& bias_or_dummy = bias ? *bias : w;  // bound but unread without kFlagBias
  Context& ctx = seq.context();
  if (use_texel_fetch_kernels(ctx)) {
    record_texel_fetch_implicit(seq, x, w, bias_or_dummy, y, false, push, p, false);
    return;
  }
  Groups g{div_up(int64_t(push.batch) * push.out_h * push.out_w, kTileSize), div_up(push.out_channels, kTileSize), 1};
  seq.dispatch(shared_tiles_gemm_kernel(ctx, p, 0), {in(x), in(w), in(bias_or_dummy), out(y)}, push, g);
}

void conv2d_backward_data(CommandSequence& seq, const Tensor& dy, const Tensor& w, const Tensor& dx,
                          const Conv2dParams& p, bool accumulate) {
  const char* op = "conv2d_backward_data";
  check_conv(op, dx, w, dy, p);
  ConvPush push = make_push(dx, dy);
  push.flags = accumulate ? kConvAccumulate : 0;
  Context& ctx = seq.context();
  if (use_texel_fetch_kernels(ctx)) {
    record_texel_fetch_implicit(seq, dy, w, w, dx, accumulate, push, p, true);
    return;
  }
  Groups g{div_up(int64_t(push.batch) * push.in_h * push.in_w, kTileSize), div_up(push.in_channels, kTileSize), 1};
  seq.dispatch(shared_tiles_gemm_kernel(ctx, p, 1), {in(dy), in(w), in(w), accumulate ? inout(dx) : out(dx)}, push, g);
}

int64_t conv2d_backward_weight_scratch_elements(const Context& ctx, const Shape& input, const Shape& weight,
                                                const Conv2dParams& p) {
  if (input.size() != 4 || weight.size() != 4)
    throw ShapeError("conv2d_backward_weight: input " + shape_string(input) + " / weight " + shape_string(weight) +
                     " are not rank 4");
  Shape out = conv2d_output_shape(input, weight[0], p);
  int64_t most = 0;  // enough for whichever candidate the views' alignment selects
  for (WeightGradKernel kind : weight_grad_candidates(ctx, input[3], p)) {
    WeightGradPlan plan = plan_weight_grad(ctx, input[0], input[1], weight[0], out[2], out[3], p, kind);
    if (plan.splits > 1) most = std::max(most, plan.splits * shape_numel(weight));
  }
  return most;
}

void conv2d_backward_weight(CommandSequence& seq, const Tensor& x, const Tensor& dy, const Tensor& dw,
                            const Conv2dParams& p, const Tensor* scratch) {
  const char* op = "conv2d_backward_weight";
  check_conv(op, x, dw, dy, p);
  Context& ctx = seq.context();
  ConvPush push = make_push(x, dy);
  std::vector<WeightGradKernel> candidates = weight_grad_candidates(ctx, push.in_w, p);
  bool vec4_ok = x.offset() % 16 == 0 && dy.offset() % 16 == 0 && x.batch_stride() % 4 == 0 &&
                 dy.batch_stride() % 4 == 0;
  bool vec4_kind = candidates.front() == WeightGradKernel::TexelFetchVec4K1 ||
                   candidates.front() == WeightGradKernel::TexelFetchVec4K3;
  WeightGradKernel kind = vec4_kind && !vec4_ok ? candidates.back() : candidates.front();
  WeightGradPlan plan = plan_weight_grad(ctx, push.batch, push.in_channels, push.out_channels, push.out_h,
                                         push.out_w, p, kind);
  push.split_pixels = static_cast<int32_t>(plan.split_units);
  const Tensor* part = &dw;
  if (plan.splits > 1) {
    int64_t needed = plan.splits * dw.numel();
    if (!scratch || !scratch->valid())
      throw ShapeError(std::string(op) + ": needs a scratch tensor of " + std::to_string(needed) +
                       " f32 elements for " + std::to_string(plan.splits) + " partial sums of " + dw.describe());
    require_dtype(op, *scratch, DType::F32);
    require_dense(op, *scratch);
    if (scratch->numel() < needed)
      throw ShapeError(std::string(op) + ": scratch " + scratch->describe() + " has fewer than the " +
                       std::to_string(needed) + " elements needed (conv2d_backward_weight_scratch_elements)");
    part = scratch;
  }
  Groups g = plan.tiles;
  if (kind == WeightGradKernel::TexelFetchVec4K3) {
    const Kernel& k = ctx.kernels().get({"conv2d_bwd_weight_s1_k3_vec4_texel_fetch",
                                         {BindAs::TexelVec4, BindAs::TexelF32, BindAs::TexelVec4, BindAs::Storage},
                                         {plan.lanes, 1, 1},
                                         shape_constants(p)});
    g.z *= static_cast<uint32_t>(plan.splits);
    seq.dispatch(k, {texel4(x), texel(x), texel4(dy), out(*part)}, push, g);
  } else if (kind == WeightGradKernel::TexelFetchVec4K1) {
    const Kernel& k = ctx.kernels().get({"conv2d_bwd_weight_s1_k1_vec4_texel_fetch",
                                         {BindAs::TexelVec4, BindAs::TexelVec4, BindAs::Storage},
                                         {plan.lanes, 1, 1},
                                         shape_constants(p)});
    g.z *= static_cast<uint32_t>(plan.splits);
    seq.dispatch(k, {texel4(x), texel4(dy), out(*part)}, push, g);
  } else if (kind == WeightGradKernel::TexelFetch) {
    const Kernel& k = ctx.kernels().get({"conv2d_bwd_weight_texel_fetch",
                                         {BindAs::TexelF32, BindAs::TexelF32, BindAs::Storage},
                                         {plan.lanes, 1, 1},
                                         shape_constants(p)});
    g.z *= static_cast<uint32_t>(plan.splits);
    seq.dispatch(k, {texel(x), texel(dy), out(*part)}, push, g);
  } else {
    g.z = static_cast<uint32_t>(plan.splits);
    seq.dispatch(shared_tiles_gemm_kernel(ctx, p, 2), {in(x), in(dy), in(dy), out(*part)}, push, g);
  }
  if (plan.splits > 1) {
    constexpr uint32_t kLocal = 256;
    const Kernel& k = ctx.kernels().get({"conv2d_reduce_splits", {BindAs::Storage, BindAs::Storage}, {kLocal, 1, 1}});
    struct {
      uint32_t n, splits;
    } reduce{static_cast<uint32_t>(dw.numel()), static_cast<uint32_t>(plan.splits)};
    seq.dispatch(k, {in(*part), out(dw)}, reduce, groups_1d(dw.numel(), kLocal));
  }
}

void conv2d_backward_bias(CommandSequence& seq, const Tensor& dy, const Tensor& db) {
  const char* op = "conv2d_backward_bias";
  check_rank4_f32(op, dy);
  require_dtype(op, db, DType::F32);
  require_shape(op, db, {dy.dim(1)});
  constexpr uint32_t kLocal = 64;
  const Kernel& k = seq.context().kernels().get({"conv2d_bwd_bias", {BindAs::Storage, BindAs::Storage}, {kLocal, 1, 1}});
  struct {
    uint32_t batch, hw, batch_stride;
  } push{static_cast<uint32_t>(dy.dim(0)), static_cast<uint32_t>(dy.dim(2) * dy.dim(3)),
         static_cast<uint32_t>(dy.batch_stride())};
  seq.dispatch(k, {in(dy), out(db)}, push, Groups{static_cast<uint32_t>(dy.dim(1)), 1, 1});
}

}  // namespace tessera::ops
