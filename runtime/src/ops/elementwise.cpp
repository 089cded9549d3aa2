#include "tessera/ops/elementwise.hpp"

#include "tessera/context.hpp"

namespace tessera::ops {

void scale_add(CommandSequence& seq, const Tensor& a, const Tensor& b, const Tensor& out, float alpha, float beta) {
  const char* op = "scale_add";
  for (const Tensor* t : {&a, &b, &out}) {
    require_dtype(op, *t, DType::F32);
    require_dense(op, *t);
  }
  require_same_shape(op, a, b);
  require_same_shape(op, a, out);
  constexpr uint32_t kLocal = 256;
  const Kernel& k = seq.context().kernels().get({"scale_add", {BindAs::Storage, BindAs::Storage, BindAs::Storage}, {kLocal, 1, 1}});
  struct {
    uint32_t n;
    float alpha, beta;
  } push{static_cast<uint32_t>(a.numel()), alpha, beta};
  seq.dispatch(k, {in(a), in(b), tessera::out(out)}, push, groups_1d(a.numel(), kLocal));
}

}  // namespace tessera::ops
