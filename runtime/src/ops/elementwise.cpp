#include "tessera/ops/elementwise.hpp"

#include <algorithm>

#include "tessera/context.hpp"
#include "tessera/error.hpp"

namespace tessera::ops {

namespace {

constexpr uint32_t kLocal = 256;

uint32_t per_sample(const Tensor& t) { return static_cast<uint32_t>(t.numel() / t.dim(0)); }
uint32_t batch_stride(const Tensor& t) { return static_cast<uint32_t>(t.batch_stride()); }

void require_feature_map(const char* op, const Tensor& t) {
  require_dtype(op, t, DType::F32);
  if (t.rank() != 4) throw ShapeError(std::string(op) + ": " + t.describe() + " should be [N, C, H, W]");
}

}  // namespace

void scale_add(CommandSequence& seq, const Tensor& a, const Tensor& b, const Tensor& out, float alpha, float beta) {
  const char* op = "scale_add";
  for (const Tensor* t : {&a, &b, &out}) require_dtype(op, *t, DType::F32);
  require_same_shape(op, a, b);
  require_same_shape(op, a, out);
  if (a.numel() > UINT32_MAX / 2) throw ShapeError(std::string(op) + ": " + a.describe() + " is too large");
  bool dense = a.is_dense() && b.is_dense() && out.is_dense();
  const Kernel& k = seq.context().kernels().get(
      {seq.context().mode_kernel("scale_add"), {BindAs::Storage, BindAs::Storage, BindAs::Storage}, {kLocal, 1, 1}, {dense ? 1u : 0u}});
  uint32_t rows = a.rank() == 0 ? 1 : static_cast<uint32_t>(a.dim(0));
  uint32_t ps = a.rank() == 0 ? 1 : per_sample(a);
  struct {
    uint32_t total, per_sample, stride_a, stride_b, stride_out;
    float alpha, beta;
  } push{rows * ps, ps,
         a.rank() == 0 ? 1 : batch_stride(a),
         b.rank() == 0 ? 1 : batch_stride(b),
         out.rank() == 0 ? 1 : batch_stride(out),
         alpha, beta};
  seq.dispatch(k, {in(a), in(b), tessera::out(out)}, push, groups_1d(push.total, kLocal));
}

void channel_bias_add(CommandSequence& seq, const Tensor& h, const Tensor& v) {
  const char* op = "channel_bias_add";
  require_feature_map(op, h);
  require_shape(op, v, {h.dim(0), h.dim(1)});
  require_dense(op, v);
  constexpr uint32_t kPlaneLocal = 64;
  const Kernel& k =
      seq.context().kernels().get({seq.context().mode_kernel("channel_bias_add"), {BindAs::Storage, BindAs::Storage}, {kPlaneLocal, 1, 1}});
  struct {
    uint32_t row_offset, channels, hw, stride_h;
  } push{0, static_cast<uint32_t>(h.dim(1)), static_cast<uint32_t>(h.dim(2) * h.dim(3)), batch_stride(h)};
  const uint32_t planes = static_cast<uint32_t>(h.dim(0) * h.dim(1));
  const uint32_t max_rows = std::min<uint32_t>(seq.context().info().max_workgroup_count[1], 65535);
  for (push.row_offset = 0; push.row_offset < planes; push.row_offset += max_rows)
    seq.dispatch(k, {inout(h), in(v)}, push, Groups{div_up(push.hw, kPlaneLocal), std::min(max_rows, planes - push.row_offset), 1});
}

void channel_sum(CommandSequence& seq, const Tensor& dh, const Tensor& dv, bool accumulate) {
  const char* op = "channel_sum";
  require_feature_map(op, dh);
  require_shape(op, dv, {dh.dim(0), dh.dim(1)});
  require_dense(op, dv);
  constexpr uint32_t kRowsLocal = 64;
  const Kernel& k = seq.context().kernels().get(
      {"channel_sum", {BindAs::Storage, BindAs::Storage}, {kRowsLocal, 1, 1}, {accumulate ? 1u : 0u}});
  struct {
    uint32_t rows, channels, hw, stride_h;
  } push{static_cast<uint32_t>(dh.dim(0) * dh.dim(1)), static_cast<uint32_t>(dh.dim(1)),
         static_cast<uint32_t>(dh.dim(2) * dh.dim(3)), batch_stride(dh)};
  seq.dispatch(k, {in(dh), accumulate ? inout(dv) : out(dv)}, push, groups_1d(push.rows, kRowsLocal));
}

}  // namespace tessera::ops
