#include <cmath>

#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/rng.hpp"
#include "tessera/sampler.hpp"
#include "tessera/training_step.hpp"

namespace tessera::testing {
namespace {

class DdimSamplerTest : public VulkanTest {
 protected:
  static UNetConfig config() {
    return UNetConfig::from_json(
        R"({"base_channels": 16, "channel_mult": [1, 2], "num_res_blocks": 1, "attention_resolutions": [],
            "num_heads": 2, "norm_groups": 4, "num_classes": 3, "padding": "circular", "train_resolution": 16})");
  }
};

// A freshly initialised model predicts eps = 0 exactly (its output conv starts at zero). DDIM
// with eta = 0 then telescopes: x_prev = a_prev * x_t / a_t, so the final image is
// x_T / sqrt(alpha_bar_{T-1}), with x_T the sampler's noise - reproducible on the CPU.
TEST_F(DdimSamplerTest, ZeroModelTelescopesToScaledNoise) {
  TrainHyperParams hp;
  TrainingStep fresh(ctx(), config(), 1, 16, hp);
  DdimOptions o;
  o.steps = 7;
  o.clip_x0 = false;
  DdimSampler sampler(ctx(), config(), fresh.params(), 2, 16, 8, o);
  EXPECT_EQ(sampler.timesteps().front(), 999);
  EXPECT_EQ(sampler.timesteps().back(), 0);
  std::vector<uint32_t> labels{0, 3};
  auto img = sampler.sample(11, labels);
  std::vector<float> noise(img.size());
  rng::fill_normal(noise, 11, kSamplerNoiseStream);
  NoiseSchedule s(Schedule::Linear, 1000);
  std::vector<double> ref(img.size());
  for (size_t i = 0; i < ref.size(); ++i) ref[i] = noise[i] / std::sqrt(s.alpha_bar(999));
  // 7 steps of two roundings each on values up to ~900: a few ulp per step.
  expect_close(img, ref, 1e-5, "telescoped DDIM");
}

TEST_F(DdimSamplerTest, SameSeedSameBytesAndLabelsChecked) {
  TrainHyperParams hp;
  TrainingStep fresh(ctx(), config(), 1, 16, hp);
  DdimOptions o;
  o.steps = 3;
  o.eta = 1.0;
  DdimSampler sampler(ctx(), config(), fresh.params(), 2, 16, 16, o);
  std::vector<uint32_t> labels{1, 2};
  auto a = sampler.sample(5, labels), b = sampler.sample(5, labels), c = sampler.sample(6, labels);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (float v : a) ASSERT_TRUE(v >= -1.0f && v <= 1.0f);  // clip_x0 keeps the result in range
  std::vector<uint32_t> bad{1, 4};
  EXPECT_THROW(sampler.sample(5, bad), Error);
  EXPECT_THROW(DdimSampler(ctx(), config(), fresh.params(), 1, 15, 16, o), ShapeError);  // not a multiple of 2
}

}  // namespace
}  // namespace tessera::testing
