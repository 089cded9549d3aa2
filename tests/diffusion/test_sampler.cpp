// The Sampler with a real (small, random or freshly initialised) U-Net: determinism and seed
// keying, guidance, img2img, inpainting, and the errors bad requests get.
#include <cmath>

#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/rng.hpp"
#include "tessera/sampler.hpp"
#include "tessera/training_step.hpp"

namespace tessera::testing {
namespace {

class SamplerTest : public VulkanTest {
 protected:
  static UNetConfig config() {
    return UNetConfig::from_json(
        R"({"base_channels": 16, "channel_mult": [1, 2], "num_res_blocks": 1, "attention_resolutions": [],
            "num_heads": 2, "norm_groups": 4, "num_classes": 3, "padding": "circular", "train_resolution": 16})");
  }
  // Random weights (not the zero-output initialisation) so every path through the model matters.
  ParameterSet& random_weights() {
    if (!weights_) {
      weights_ = std::make_unique<ParameterSet>();
      UNet::declare_parameters(config(), *weights_);
      weights_->allocate(ctx(), false);
      uint64_t stream = 1;
      for (const auto& e : weights_->entries()) {
        std::vector<float> w(static_cast<size_t>(shape_numel(e.shape)));
        rng::fill_normal(w, 3, stream++);
        for (float& v : w) v *= 0.1f;
        weights_->upload(e.name, w);
      }
    }
    return *weights_;
  }
  std::unique_ptr<ParameterSet> weights_;
};

// The step sequence: DPM-Solver++(2M) takes its history from the previous step, except on the
// first step and, with the lower-order final step (the default), on the step into t = 0; the
// final step (prev = -1) never uses history. Also checked against samplers.py in
// test_sampler_reference.cpp where torch is available.
TEST(SamplerScheduleTest, StepTimesAndLowerOrderFinal) {
  const std::vector<int> ts = sampler_timesteps(1000, 5);
  ASSERT_EQ(ts, (std::vector<int>{800, 600, 400, 200, 0}));  // leading spacing: floor(i T / S)
  auto times = [&](size_t i, SamplerKind kind, bool lower_order_final) {
    StepTimes t = sampler_step_times(ts, i, kind, lower_order_final);
    return std::vector<int>{t.t, t.prev, t.last};
  };
  using V = std::vector<int>;
  EXPECT_EQ(times(0, SamplerKind::DpmSolver2M, true), (V{800, 600, -1}));
  EXPECT_EQ(times(2, SamplerKind::DpmSolver2M, true), (V{400, 200, 600}));
  EXPECT_EQ(times(3, SamplerKind::DpmSolver2M, true), (V{200, 0, -1}));
  EXPECT_EQ(times(4, SamplerKind::DpmSolver2M, true), (V{0, -1, -1}));
  EXPECT_EQ(times(3, SamplerKind::DpmSolver2M, false), (V{200, 0, 400}));
  EXPECT_EQ(times(4, SamplerKind::DpmSolver2M, false), (V{0, -1, 200}));
  EXPECT_EQ(times(3, SamplerKind::Ddim, true), (V{200, 0, 400}));  // history unused by DDIM / DDPM
  EXPECT_THROW(sampler_step_times(ts, 5, SamplerKind::Ddim), Error);
  EXPECT_THROW(sampler_timesteps(1000, 1001), Error);
  NoiseSchedule schedule(Schedule::Cosine, 1000);
  auto coefficients = [&](size_t i) {
    return step_coefficients(schedule, SamplerKind::DpmSolver2M, sampler_step_times(ts, i, SamplerKind::DpmSolver2M));
  };
  EXPECT_TRUE(coefficients(2).uses_history);
  EXPECT_FALSE(coefficients(3).uses_history);
}

// A freshly initialised model predicts eps = 0 exactly (its output conv starts at zero). DDIM
// with eta = 0 then telescopes: x_prev = a_prev * x_t / a_t, so the final image is
// x_start / sqrt(alpha_bar_start), with x_start each sample's own noise - reproducible on the CPU.
TEST_F(SamplerTest, ZeroModelTelescopesToScaledNoise) {
  TrainHyperParams hp;
  TrainingStep fresh(ctx(), config(), 1, 16, hp);
  SamplerOptions o;
  o.kind = SamplerKind::Ddim;
  o.steps = 7;
  o.clip_x0 = false;
  Sampler sampler(ctx(), config(), fresh.params(), 2, 16, 8, o);
  EXPECT_EQ(sampler.timesteps().front(), 857);  // floor(6 * 1000 / 7)
  EXPECT_EQ(sampler.timesteps().back(), 0);
  std::vector<uint32_t> labels{0, 3};
  std::vector<uint64_t> seeds{11, 12};
  auto img = sampler.sample({seeds, labels});
  NoiseSchedule s(Schedule::Linear, 1000);
  std::vector<double> ref;
  for (uint64_t seed : seeds) {
    std::vector<float> noise(img.size() / 2);
    rng::fill_normal(noise, seed, kSamplerNoiseStream);
    for (float v : noise) ref.push_back(v / std::sqrt(s.alpha_bar(857)));
  }
  // 7 steps of two roundings each: a few ulp per step.
  expect_close(img, ref, 1e-5, "telescoped DDIM");
}

TEST_F(SamplerTest, SameSeedSameBytesAndAnImageDependsOnItsSeedOnly) {
  SamplerOptions o;
  o.kind = SamplerKind::Ddpm;  // stochastic every step
  o.steps = 4;
  Sampler pair(ctx(), config(), random_weights(), 2, 16, 16, o);
  std::vector<uint32_t> labels{1, 2};
  std::vector<uint64_t> seeds{5, 9};
  auto a = pair.sample({seeds, labels}), b = pair.sample({seeds, labels});
  EXPECT_EQ(a, b);
  for (float v : a) ASSERT_TRUE(v >= -1.0f && v <= 1.0f);  // clip_x0 keeps the result in range
  std::vector<uint64_t> other{6, 9};
  auto c = pair.sample({other, labels});
  size_t half = a.size() / 2;
  EXPECT_NE(std::vector<float>(a.begin(), a.begin() + half), std::vector<float>(c.begin(), c.begin() + half));
  EXPECT_EQ(std::vector<float>(a.begin() + half, a.end()), std::vector<float>(c.begin() + half, c.end()));
  // The second image alone, in a batch of one, has the same bytes.
  Sampler single(ctx(), config(), random_weights(), 1, 16, 16, o);
  std::vector<uint32_t> one_label{2};
  std::vector<uint64_t> one_seed{9};
  EXPECT_EQ(single.sample({one_seed, one_label}), std::vector<float>(a.begin() + half, a.end()));
}

TEST_F(SamplerTest, GuidanceOfOneEqualsConditionalSampling) {
  SamplerOptions o;
  o.steps = 5;
  std::vector<uint32_t> labels{0, 2};
  std::vector<uint64_t> seeds{1, 2};
  Sampler plain(ctx(), config(), random_weights(), 2, 16, 16, o);
  EXPECT_FALSE(plain.guided());  // w = 1 skips the null pass
  auto conditional = plain.sample({seeds, labels});
  o.force_guided_batch = true;
  Sampler guided_one(ctx(), config(), random_weights(), 2, 16, 16, o);
  EXPECT_TRUE(guided_one.guided());
  // e_null + 1 * (e_cond - e_null) rounds differently from e_cond by an ulp or so per step.
  expect_close_normwise(guided_one.sample({seeds, labels}), to_double(conditional), 1e-5, "w = 1 through the guided batch");
  o.force_guided_batch = false;
  o.guidance = 3.0;
  Sampler guided(ctx(), config(), random_weights(), 2, 16, 16, o);
  auto g = guided.sample({seeds, labels});
  double diff = 0;
  for (size_t i = 0; i < g.size(); ++i) diff = std::max(diff, double(std::fabs(g[i] - conditional[i])));
  EXPECT_GT(diff, 1e-3) << "guidance 3 must change the result";
}

std::vector<float> test_image(int c, int h, int w) {
  std::vector<float> img(static_cast<size_t>(c) * h * w);
  for (size_t i = 0; i < img.size(); ++i) img[i] = float((i * 37) % 255) / 127.5f - 1.0f;
  return img;
}

TEST_F(SamplerTest, Img2ImgStrengthZeroReturnsTheInputAndStrengthChangesIt) {
  auto init = test_image(3, 16, 16);
  std::vector<uint32_t> labels{1};
  std::vector<uint64_t> seeds{4};
  SamplerOptions o;
  o.steps = 10;
  o.init_image = true;
  o.strength = 0.0;
  Sampler keep(ctx(), config(), random_weights(), 1, 16, 16, o);
  EXPECT_EQ(keep.steps_total(), 0);
  EXPECT_EQ(keep.sample({seeds, labels, init}), init);
  o.strength = 0.3;
  Sampler some(ctx(), config(), random_weights(), 1, 16, 16, o);
  EXPECT_EQ(some.steps_total(), 3);
  auto out = some.sample({seeds, labels, init});
  double diff = 0;
  for (size_t i = 0; i < out.size(); ++i) diff = std::max(diff, double(std::fabs(out[i] - init[i])));
  EXPECT_GT(diff, 1e-3);
}

TEST_F(SamplerTest, InpaintingKeepsKnownPixelsExactly) {
  const int h = 16, w = 16;
  auto known = test_image(3, h, w);
  std::vector<float> keep(h * w, 0.0f);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w / 2; ++x) keep[y * w + x] = 1.0f;  // keep the left half
  std::vector<uint32_t> labels{0, 1};
  std::vector<uint64_t> seeds{8, 9};
  for (SamplerKind kind : {SamplerKind::Ddpm, SamplerKind::Ddim, SamplerKind::DpmSolver2M}) {
    SamplerOptions o;
    o.kind = kind;
    o.steps = 6;
    o.mask = true;
    Sampler sampler(ctx(), config(), random_weights(), 2, h, w, o);
    auto out = sampler.sample({seeds, labels, known, keep});
    size_t plane = size_t(h) * w, image = 3 * plane, generated_changed = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      if (keep[i % plane] == 1.0f)
        ASSERT_EQ(out[i], known[i % image]) << to_string(kind) << " element " << i;
      else
        generated_changed += out[i] != known[i % image];
    }
    EXPECT_GT(generated_changed, out.size() / 3) << to_string(kind);
  }
}

TEST_F(SamplerTest, PreviewAndStepwiseRunEqualOneShot) {
  SamplerOptions o;
  o.steps = 4;
  Sampler sampler(ctx(), config(), random_weights(), 1, 16, 16, o);
  std::vector<uint32_t> labels{2};
  std::vector<uint64_t> seeds{3};
  auto one_shot = sampler.sample({seeds, labels});
  sampler.start({seeds, labels});
  EXPECT_EQ(sampler.steps_done(), 0);
  while (sampler.step()) {
    auto p = sampler.preview();
    for (float v : p) ASSERT_TRUE(v >= -1.0f && v <= 1.0f);
  }
  EXPECT_TRUE(sampler.done());
  EXPECT_EQ(sampler.steps_done(), 4);
  EXPECT_EQ(sampler.image(), one_shot);
  EXPECT_EQ(sampler.preview(), one_shot);  // the final step lands on its x0 estimate
}

TEST_F(SamplerTest, BadRequestsAreRefusedClearly) {
  SamplerOptions o;
  o.steps = 3;
  Sampler sampler(ctx(), config(), random_weights(), 2, 16, 16, o);
  std::vector<uint64_t> seeds{1, 2}, one_seed{1};
  std::vector<uint32_t> labels{1, 2}, bad{1, 4};
  EXPECT_THROW(sampler.sample({seeds, bad}), Error);
  EXPECT_THROW(sampler.sample({one_seed, labels}), ShapeError);
  auto img = test_image(3, 16, 16);
  EXPECT_THROW(sampler.sample({seeds, labels, img}), Error);  // built without img2img
  EXPECT_THROW(sampler.step(), Error);                       // nothing started yet... or finished
  EXPECT_THROW(Sampler(ctx(), config(), random_weights(), 1, 15, 16, o), ShapeError);  // not a multiple of 2
  SamplerOptions bad_steps = o;
  bad_steps.steps = 0;
  EXPECT_THROW(Sampler(ctx(), config(), random_weights(), 1, 16, 16, bad_steps), Error);
  SamplerOptions bad_eta = o;
  bad_eta.eta = 1.5;
  EXPECT_THROW(Sampler(ctx(), config(), random_weights(), 1, 16, 16, bad_eta), Error);
  UNetConfig unconditional = config();
  unconditional.num_classes = 0;
  SamplerOptions guided = o;
  guided.guidance = 2.0;
  EXPECT_THROW(Sampler(ctx(), unconditional, random_weights(), 1, 16, 16, guided), Error);
}

}  // namespace
}  // namespace tessera::testing
