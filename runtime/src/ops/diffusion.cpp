#include "tessera/ops/diffusion.hpp"

#include <cmath>

#include "tessera/context.hpp"
#include "tessera/error.hpp"

namespace tessera::ops {

namespace {
constexpr uint32_t kLocal = 256;
}

void diffusion_noise(CommandSequence& seq, const Tensor& x0, const Tensor& eps, const Tensor& coefs, const Tensor& xt,
                     const Tensor& target, Prediction prediction) {
  const char* op = "diffusion_noise";
  for (const Tensor* t : {&x0, &eps, &xt, &target}) {
    require_dtype(op, *t, DType::F32);
    require_dense(op, *t);
    require_same_shape(op, x0, *t);
  }
  require_shape(op, coefs, {x0.dim(0), 2});
  require_dtype(op, coefs, DType::F32);
  const Kernel& k = seq.context().kernels().get(
      {"diffusion_noise", std::vector<BindAs>(5, BindAs::Storage), {kLocal, 1, 1},
       {prediction == Prediction::V ? 1u : 0u}});
  struct {
    uint32_t total, per_sample;
  } push{static_cast<uint32_t>(x0.numel()), static_cast<uint32_t>(x0.numel() / x0.dim(0))};
  seq.dispatch(k, {in(x0), in(eps), in(coefs), out(xt), out(target)}, push, groups_1d(push.total, kLocal));
}

DdimCoefficients ddim_coefficients(double ab_t, double ab_prev, double eta) {
  if (!(ab_t > 0 && ab_t < 1 && ab_prev > 0 && ab_prev <= 1 && ab_prev >= ab_t))
    throw Error("ddim_coefficients: need 0 < alpha_bar_t <= alpha_bar_prev <= 1");
  double sigma = eta * std::sqrt((1 - ab_prev) / (1 - ab_t)) * std::sqrt(1 - ab_t / ab_prev);
  double dir = std::sqrt(std::max(0.0, 1 - ab_prev - sigma * sigma));
  return {float(std::sqrt(ab_t)), float(std::sqrt(1 - ab_t)), float(std::sqrt(ab_prev)), float(dir), float(sigma)};
}

void ddim_step(CommandSequence& seq, const Tensor& x, const Tensor& model_out, const Tensor& z,
               const DdimCoefficients& c, Prediction prediction, bool clip_x0) {
  const char* op = "ddim_step";
  for (const Tensor* t : {&x, &model_out, &z}) {
    require_dtype(op, *t, DType::F32);
    require_dense(op, *t);
    require_same_shape(op, x, *t);
  }
  const Kernel& k = seq.context().kernels().get(
      {"ddim_step", std::vector<BindAs>(3, BindAs::Storage), {kLocal, 1, 1},
       {prediction == Prediction::V ? 1u : 0u, clip_x0 ? 1u : 0u}});
  struct {
    uint32_t total;
    float a_t, b_t, a_prev, dir_coef, sigma;
  } push{static_cast<uint32_t>(x.numel()), c.a_t, c.b_t, c.a_prev, c.dir_coef, c.sigma};
  seq.dispatch(k, {inout(x), in(model_out), in(z)}, push, groups_1d(push.total, kLocal));
}

}  // namespace tessera::ops
