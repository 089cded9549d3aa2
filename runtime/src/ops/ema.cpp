#include "tessera/ops/ema.hpp"

#include <string>

#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/adamw.hpp"

namespace tessera::ops {

void ema_update(CommandSequence& seq, std::span<const Tensor> params, std::span<const Tensor> emas,
                const Tensor& hyper) {
  const char* op = "ema_update";
  if (params.size() != emas.size())
    throw ShapeError(std::string(op) + ": " + std::to_string(params.size()) + " parameters but " +
                     std::to_string(emas.size()) + " EMA tensors");
  require_dtype(op, hyper, DType::F32);
  require_shape(op, hyper, {kOptimizerBlockSize});
  constexpr uint32_t kLocal = 256;
  auto kernel = [&](const char* shader) -> const Kernel& {
    return seq.context().kernels().get({shader, {BindAs::Storage, BindAs::Storage, BindAs::Storage}, {kLocal, 1, 1}});
  };
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    const Tensor& e = emas[i];
    for (const Tensor* t : {&p, &e}) {
      require_dtype(op, *t, DType::F32);
      require_dense(op, *t);
    }
    require_same_shape(op, p, e);
    if (p.numel() >= (int64_t(1) << 32)) throw UnsupportedError(std::string(op) + ": " + p.describe() + " too large");
    // Four elements per invocation when the count allows (the ema_vec4 row of shaders/variants.txt).
    bool vec4 = p.numel() % 4 == 0;
    uint64_t invocations = uint64_t(p.numel()) / (vec4 ? 4 : 1);
    struct {
      uint32_t n;
    } push{uint32_t(invocations)};
    seq.dispatch(kernel(vec4 ? "ema_vec4" : "ema"), {in(hyper), in(p), inout(e)}, push, groups_1d(invocations, kLocal));
  }
}

}  // namespace tessera::ops
