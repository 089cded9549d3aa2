#include "tessera/ops/image_convert.hpp"

#include <string>

#include "tessera/context.hpp"
#include "tessera/error.hpp"

namespace tessera::ops {

namespace {

constexpr uint32_t kLocal = 256;

struct Push {
  uint32_t n, plane, channels;
};

Push validate(const char* op, const Tensor& image, const Tensor& rgba) {
  require_dtype(op, image, DType::F32);
  require_dtype(op, rgba, DType::U32);
  require_dense(op, image);
  require_dense(op, rgba);
  if (image.rank() != 4 || (image.dim(1) != 3 && image.dim(1) != 4))
    throw ShapeError(std::string(op) + ": image " + image.describe() + " should be [N, 3 or 4, H, W]");
  require_shape(op, rgba, {image.dim(0), image.dim(2), image.dim(3)});
  if (image.numel() >= (int64_t(1) << 32)) throw UnsupportedError(std::string(op) + ": " + image.describe() + " too large");
  return {uint32_t(rgba.numel()), uint32_t(image.dim(2) * image.dim(3)), uint32_t(image.dim(1))};
}

}  // namespace

void image_to_rgba8(CommandSequence& seq, const Tensor& image, const Tensor& rgba) {
  Push push = validate("image_to_rgba8", image, rgba);
  const Kernel& k =
      seq.context().kernels().get({seq.context().mode_kernel("image_convert_to_rgba8"), {BindAs::Storage, BindAs::Storage}, {kLocal, 1, 1}});
  seq.dispatch(k, {in(image), out(rgba)}, push, groups_1d(push.n, kLocal));
}

void image_from_rgba8(CommandSequence& seq, const Tensor& rgba, const Tensor& image) {
  Push push = validate("image_from_rgba8", image, rgba);
  const Kernel& k =
      seq.context().kernels().get({"image_convert_from_rgba8", {BindAs::Storage, BindAs::Storage}, {kLocal, 1, 1}});
  seq.dispatch(k, {in(rgba), out(image)}, push, groups_1d(push.n, kLocal));
}

}  // namespace tessera::ops
