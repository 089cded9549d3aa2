#include "tessera/ops/diffusion.hpp"

#include <cmath>

#include "tessera/context.hpp"
#include "tessera/error.hpp"

namespace tessera::ops {

namespace {
constexpr uint32_t kLocal = 256;
}

void diffusion_noise(CommandSequence& seq, const Tensor& x0, const Tensor& eps, const Tensor& coefs, const Tensor& xt,
                     const Tensor& target, bool v_prediction) {
  const char* op = "diffusion_noise";
  for (const Tensor* t : {&x0, &eps, &xt, &target}) {
    require_dtype(op, *t, DType::F32);
    require_dense(op, *t);
    require_same_shape(op, x0, *t);
  }
  require_shape(op, coefs, {x0.dim(0), 2});
  require_dtype(op, coefs, DType::F32);
  const Kernel& k = seq.context().kernels().get(
      {"diffusion_noise", std::vector<BindAs>(5, BindAs::Storage), {kLocal, 1, 1}, {v_prediction ? 1u : 0u}});
  struct {
    uint32_t total, per_sample;
  } push{static_cast<uint32_t>(x0.numel()), static_cast<uint32_t>(x0.numel() / x0.dim(0))};
  seq.dispatch(k, {in(x0), in(eps), in(coefs), out(xt), out(target)}, push, groups_1d(push.total, kLocal));
}

void sampler_step(CommandSequence& seq, const Tensor& x, const Tensor& model_out, const Tensor& z, const Tensor& x0,
                  const SamplerStepCoefficients& c, double guidance, const SamplerStepFlags& flags) {
  const char* op = "sampler_step";
  for (const Tensor* t : {&x, &model_out, &z, &x0}) {
    require_dtype(op, *t, DType::F32);
    require_dense(op, *t);
  }
  require_same_shape(op, x, z);
  require_same_shape(op, x, x0);
  if (flags.guided) {
    Shape doubled = x.shape();
    doubled[0] *= 2;
    require_shape(op, model_out, doubled);
  } else {
    require_same_shape(op, x, model_out);
  }
  const Kernel& k = seq.context().kernels().get(
      {seq.context().mode_kernel("sampler_step"),
       std::vector<BindAs>(4, BindAs::Storage),
       {kLocal, 1, 1},
       {flags.v_prediction ? 1u : 0u, flags.clip_x0 ? 1u : 0u, flags.guided ? 1u : 0u, c.uses_history ? 1u : 0u}});
  struct {
    uint32_t total;
    float guidance, a_t, b_t, c_x, c_x0, c_x0_last, c_eps, sigma;
    float inv_a_t, inv_b_t;  // the portable kernel multiplies by these instead of dividing
  } push{static_cast<uint32_t>(x.numel()), float(guidance),      float(c.a_t),          float(c.b_t),
         float(c.c_x),                     float(c.c_x0),        float(c.c_x0_last),    float(c.c_eps),
         float(c.sigma),                   float(1.0 / c.a_t),   float(1.0 / c.b_t)};
  seq.dispatch(k, {inout(x), in(model_out), in(z), inout(x0)}, push, groups_1d(push.total, kLocal));
}

void sampler_blend_known(CommandSequence& seq, const Tensor& x, const Tensor& known, const Tensor& zk,
                         const Tensor* keep, double a, double b) {
  const char* op = "sampler_blend_known";
  for (const Tensor* t : {&x, &known, &zk}) {
    require_dtype(op, *t, DType::F32);
    require_dense(op, *t);
  }
  if (x.rank() != 4) throw ShapeError(std::string(op) + ": x must be [N, C, H, W]");
  require_same_shape(op, x, zk);
  require_shape(op, known, {x.dim(1), x.dim(2), x.dim(3)});
  if (keep) {
    require_dtype(op, *keep, DType::F32);
    require_dense(op, *keep);
    require_shape(op, *keep, {x.dim(2), x.dim(3)});
  }
  const Kernel& kernel = seq.context().kernels().get(
      {seq.context().mode_kernel("sampler_blend_known"), std::vector<BindAs>(4, BindAs::Storage), {kLocal, 1, 1}, {keep ? 1u : 0u}});
  struct {
    uint32_t total, image_elements, plane_elements;
    float a, b;
  } push{static_cast<uint32_t>(x.numel()), static_cast<uint32_t>(known.numel()),
         static_cast<uint32_t>(x.dim(2) * x.dim(3)), float(a), float(b)};
  // Without a keep mask the binding is unused; bind `known` there so every binding is valid.
  seq.dispatch(kernel, {inout(x), in(known), in(zk), in(keep ? *keep : known)}, push, groups_1d(push.total, kLocal));
}

void gaussian_eps_oracle(CommandSequence& seq, const Tensor& x, const Tensor& timesteps, const Tensor& alpha_bar,
                         const Tensor& result, double mu, double s2, bool v_prediction) {
  const char* op = "gaussian_eps_oracle";
  for (const Tensor* t : {&x, &timesteps, &alpha_bar, &result}) {
    require_dtype(op, *t, DType::F32);
    require_dense(op, *t);
  }
  require_same_shape(op, x, result);
  require_shape(op, timesteps, {x.dim(0)});
  if (alpha_bar.rank() != 1) throw ShapeError(std::string(op) + ": alpha_bar must be [T]");
  const Kernel& k = seq.context().kernels().get(
      {"gaussian_eps_oracle", std::vector<BindAs>(4, BindAs::Storage), {kLocal, 1, 1}, {v_prediction ? 1u : 0u}});
  struct {
    uint32_t total, per_sample;
    float mu, s2;
  } push{static_cast<uint32_t>(x.numel()), static_cast<uint32_t>(x.numel() / x.dim(0)), float(mu), float(s2)};
  seq.dispatch(k, {in(x), in(timesteps), in(alpha_bar), out(result)}, push, groups_1d(push.total, kLocal));
}

}  // namespace tessera::ops
