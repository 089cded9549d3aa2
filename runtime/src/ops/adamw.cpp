#include "tessera/ops/adamw.hpp"

#include <cmath>
#include <string>

#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/grad_norm.hpp"

namespace tessera::ops {

std::array<float, kOptimizerBlockSize> pack_optimizer_block(const OptimizerHyperParams& h) {
  if (h.step < 1) throw Error("pack_optimizer_block: step " + std::to_string(h.step) + " must be >= 1");
  std::array<float, kOptimizerBlockSize> b{};
  double t = double(h.step);
  b[kLr] = float(h.lr);
  b[kBeta1] = float(h.beta1);
  b[kBeta2] = float(h.beta2);
  b[kEps] = float(h.eps);
  b[kWeightDecay] = float(h.weight_decay);
  b[kStepSize] = float(h.lr / (1.0 - std::pow(h.beta1, t)));
  b[kBiasCorrection2Sqrt] = float(std::sqrt(1.0 - std::pow(h.beta2, t)));
  b[kDecayFactor] = float(1.0 - h.lr * h.weight_decay);
  b[kOneMinusBeta1] = float(1.0 - h.beta1);
  b[kOneMinusBeta2] = float(1.0 - h.beta2);
  b[kEmaDecay] = float(h.ema_decay);
  b[kEmaOneMinusDecay] = float(1.0 - h.ema_decay);
  b[kStep] = float(h.step);
  return b;
}

void adamw_step(CommandSequence& seq, std::span<const AdamWState> states, const Tensor& hyper, const Tensor* clip) {
  const char* op = "adamw_step";
  require_dtype(op, hyper, DType::F32);
  require_shape(op, hyper, {kOptimizerBlockSize});
  if (clip) {
    require_dtype(op, *clip, DType::F32);
    require_shape(op, *clip, {kGradNormResultSize});
  }
  constexpr uint32_t kLocal = 256;
  auto kernel = [&](const char* shader) -> const Kernel& {
    return seq.context().kernels().get(
        {shader,
         {BindAs::Storage, BindAs::Storage, BindAs::Storage, BindAs::Storage, BindAs::Storage, BindAs::Storage},
         {kLocal, 1, 1},
         {clip ? 1u : 0u}});
  };
  for (const AdamWState& s : states) {
    for (const Tensor* t : {&s.param, &s.grad, &s.exp_avg, &s.exp_avg_sq}) {
      if (!t->valid()) throw ShapeError(std::string(op) + ": a tensor of the optimizer state is not allocated");
      require_dtype(op, *t, DType::F32);
      require_dense(op, *t);
    }
    require_same_shape(op, s.param, s.grad);
    require_same_shape(op, s.param, s.exp_avg);
    require_same_shape(op, s.param, s.exp_avg_sq);
    if (s.param.numel() >= (int64_t(1) << 32))
      throw UnsupportedError(std::string(op) + ": " + s.param.describe() + " too large");
    // Four elements per invocation when the count allows (the adamw_vec4 row of shaders/variants.txt).
    bool vec4 = s.param.numel() % 4 == 0;
    const Kernel& k = kernel(vec4 ? "adamw_vec4" : "adamw");
    uint64_t invocations = uint64_t(s.param.numel()) / (vec4 ? 4 : 1);
    struct {
      uint32_t n;
    } push{uint32_t(invocations)};
    // Without clipping the clip binding aliases the block: bound but never read.
    seq.dispatch(k,
                 {in(hyper), in(clip ? *clip : hyper), in(s.grad), inout(s.param), inout(s.exp_avg),
                  inout(s.exp_avg_sq)},
                 push, groups_1d(invocations, kLocal));
  }
}

}  // namespace tessera::ops
