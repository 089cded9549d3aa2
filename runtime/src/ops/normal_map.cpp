#include "tessera/ops/normal_map.hpp"

#include <cmath>
#include <string>

#include "ops/per_sample_dispatch.hpp"
#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/kernel.hpp"
#include "tessera/ops/concat.hpp"

namespace tessera::ops {

namespace {

constexpr uint32_t kLocalSize = 256;
constexpr const char* kOp = "normal_map_from_height";

void require_operand(const Context& ctx, const Tensor& t, int64_t channels) {
  if (!t.valid()) throw ShapeError(std::string(kOp) + ": tensor is not allocated");
  require_dtype(kOp, t, DType::F32);
  if (t.rank() != 4 || t.dim(1) != channels)
    throw ShapeError(std::string(kOp) + ": " + t.describe() + " should be [N, " + std::to_string(channels) + ", H, W]");
  require_bindable(kOp, ctx, t);
  require_32bit_indexing(kOp, t);
}

}  // namespace

void normal_map_from_height(CommandSequence& seq, const Tensor& height, const Tensor& normal, float strength,
                            NormalConvention convention) {
  Context& ctx = seq.context();
  require_operand(ctx, height, 1);
  require_operand(ctx, normal, 3);
  require_shape(kOp, normal, {height.dim(0), 3, height.dim(2), height.dim(3)});
  if (!std::isfinite(strength) || strength < 0.0f)
    throw ShapeError(std::string(kOp) + ": strength " + std::to_string(strength) +
                     " should be a finite height range in texels, >= 0");
  if (convention != NormalConvention::OpenGL && convention != NormalConvention::DirectX)
    throw ShapeError(std::string(kOp) + ": convention " + std::to_string(static_cast<uint32_t>(convention)) +
                     " is neither OpenGL (0) nor DirectX (1)");
  if (share_elements(height, normal))
    throw ShapeError(std::string(kOp) + ": normal " + normal.describe() + " shares elements with height " +
                     height.describe());
  const Kernel& k =
      ctx.kernels().get({ctx.mode_kernel("normal_map_from_height"), {BindAs::TexelF32, BindAs::Storage}, {kLocalSize, 1, 1}});
  struct {
    uint32_t width, rows, height_batch_stride, normal_batch_stride;
    float slope_scale, y_sign;
  } push{static_cast<uint32_t>(height.dim(3)),
         static_cast<uint32_t>(height.dim(2)),
         static_cast<uint32_t>(height.batch_stride()),
         static_cast<uint32_t>(normal.batch_stride()),
         strength * 0.25f,
         convention == NormalConvention::OpenGL ? 1.0f : -1.0f};
  seq.dispatch(k, {texel(height), out(normal)}, push,
               per_sample_groups(height.dim(2) * height.dim(3), height.dim(0), kLocalSize));
}

}  // namespace tessera::ops
