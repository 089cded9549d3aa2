// A Denoiser whose prediction is exact for data x0 ~ N(mu, s2 I) (ops::gaussian_eps_oracle), so
// sampler results can be checked against closed-form answers instead of a trained network.
#pragma once
#include <memory>
#include <vector>

#include "tessera/arena.hpp"
#include "tessera/denoiser.hpp"
#include "tessera/noise_schedule.hpp"
#include "tessera/ops/diffusion.hpp"

namespace tessera::testing {

class GaussianDenoiser : public Denoiser {
 public:
  GaussianDenoiser(Context& ctx, const NoiseSchedule& schedule, const Shape& shape, double mu, double s2,
                   Prediction prediction, bool with_labels)
      : mu_(mu), s2_(s2), prediction_(prediction) {
    int64_t n = shape_numel(shape);
    arena_ = std::make_unique<Arena>(ctx, (2 * n + 2 * shape[0] + schedule.timesteps()) * 4 + 8 * Arena::kAlignment,
                                     "gaussian-denoiser");
    input_ = arena_->allocate(shape, DType::F32, "x_t");
    output_ = arena_->allocate(shape, DType::F32, "eps");
    timesteps_ = arena_->allocate({shape[0]}, DType::F32, "timesteps");
    if (with_labels) labels_ = arena_->allocate({shape[0]}, DType::U32, "labels");  // ignored: one data law
    alpha_bar_ = arena_->allocate({schedule.timesteps()}, DType::F32, "alpha_bar");
    std::vector<float> ab(schedule.timesteps());
    for (int t = 0; t < schedule.timesteps(); ++t) ab[t] = float(schedule.alpha_bar(t));
    upload_f32(alpha_bar_, ab);
  }
  const Tensor& input() const override { return input_; }
  const Tensor& timesteps() const override { return timesteps_; }
  const Tensor& labels() const override { return labels_; }
  const Tensor& output() const override { return output_; }
  VkDeviceSize device_bytes() const override { return arena_->capacity(); }
  void record_forward(CommandSequence& seq) const override {
    ops::gaussian_eps_oracle(seq, input_, timesteps_, alpha_bar_, output_, mu_, s2_, prediction_ == Prediction::V);
  }

 private:
  double mu_, s2_;
  Prediction prediction_;
  std::unique_ptr<Arena> arena_;
  Tensor input_, output_, timesteps_, labels_, alpha_bar_;
};

}  // namespace tessera::testing
