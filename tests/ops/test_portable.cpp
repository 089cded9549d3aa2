// Portable mode (docs/portable.md): the portable arithmetic on the GPU against its C++ twin, bit
// for bit, and against double; the same bytes from both kernel variants per op and for whole
// samples of the bundled model; and the fast mode, whose variants differ (so the comparison can
// fail). The op tests of the suite run in portable mode with TESSERA_TEST_PORTABLE=1.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>

#include "portable/portable_test_support.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/model_file.hpp"
#include "tessera/ops/attention.hpp"
#include "tessera/ops/conv2d.hpp"
#include "tessera/ops/groupnorm.hpp"
#include "tessera/ops/linear.hpp"
#include "tessera/portable_math.hpp"
#include "tessera/sampler.hpp"
#include "tessera/unet.hpp"

namespace tessera::testing {
namespace {

namespace pm = tessera::portable;

// Elements whose bits differ (NaN payloads aside: the C++ twin and a GPU may make different NaNs).
size_t differing(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  size_t n = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    if (std::bit_cast<uint32_t>(a[i]) != std::bit_cast<uint32_t>(b[i]) && !(std::isnan(a[i]) && std::isnan(b[i]))) ++n;
  return n;
}

class PortableTest : public VulkanTest {
 protected:
  // Runs `op` (which records into a sequence and returns the output) in both kernel variants
  // in the given mode and returns their results.
  std::pair<std::vector<float>, std::vector<float>> both_variants(bool portable,
                                                                  const std::function<Tensor(CommandSequence&)>& op) {
    PortableModeScope mode(ctx(), portable);
    std::vector<std::vector<float>> results;
    for_each_variant([&](KernelVariant) {
      CommandSequence seq(ctx());
      Tensor out = op(seq);
      seq.run();
      results.push_back(download_f32(out));
    });
    return {results[0], results[1]};
  }
  void expect_same_bytes(const char* what, const std::function<Tensor(CommandSequence&)>& op) {
    auto [texel, tiles] = both_variants(true, op);
    EXPECT_EQ(differing(texel, tiles), 0u) << what << ": portable mode, TexelFetch vs SharedTiles";
    for (float v : texel) ASSERT_TRUE(std::isfinite(v)) << what;
  }
};

std::vector<float> probe_inputs() {
  std::vector<float> x;
  // Every 0x2003rd bit pattern of both signs (all binades, subnormals included), then edges.
  for (uint32_t bits = 0; bits < 0x7F800000u; bits += 0x2003u) {
    x.push_back(std::bit_cast<float>(bits));
    x.push_back(-std::bit_cast<float>(bits));
  }
  const float inf = std::numeric_limits<float>::infinity(), tiny = std::numeric_limits<float>::min();
  for (float e : {0.0f,         -0.0f,    tiny,       -tiny,     std::nextafter(tiny, 0.0f),
                  1e-45f,       1.0f,     -1.0f,      0.5f,      2.0f,
                  88.72283f,    88.7229f, -87.33654f, -87.3366f, -103.0f,
                  1e30f,        -1e30f,   inf,        -inf,      std::numeric_limits<float>::max(),
                  std::nanf("")})
    x.push_back(e);
  return x;
}

TEST_F(PortableTest, MathMatchesCppTwinBitForBitAndDoubleWithinUlps) {
  std::vector<float> x = probe_inputs();
  const size_t n = x.size();
  std::vector<float> triples(3 * n);
  for (size_t i = 0; i < n; ++i) {
    triples[3 * i] = x[i];
    triples[3 * i + 1] = x[(i * 7919 + 3) % n];                    // a second operand from the sweep
    triples[3 * i + 2] = std::exp(-9.2f * float(i % 64) / 64.0f);  // frequencies as the embedding's
  }
  Tensor in = random_tensor({int64_t(3 * n)}, 1, 0, 1, "probe.in");
  upload_f32(in, triples);
  Tensor out = poisoned_tensor({int64_t(8 * n)}, "probe.out");
  const Kernel& k = ctx().kernels().get({"portable_math_probe", {BindAs::Storage, BindAs::Storage}, {64, 1, 1}});
  CommandSequence seq(ctx());
  struct {
    uint32_t n;
  } push{uint32_t(n)};
  seq.dispatch(k, {tessera::in(in), tessera::out(out)}, push, groups_1d(int64_t(n), 64));
  seq.run();
  std::vector<float> gpu = download_f32(out);

  std::vector<float> cpu(8 * n);
  for (size_t i = 0; i < n; ++i) {
    float a = triples[3 * i], b = triples[3 * i + 1], f = triples[3 * i + 2];
    float* o = &cpu[8 * i];
    o[0] = pm::flush(a);
    o[1] = pm::add(a, b);
    o[2] = pm::mul(a, b);
    o[3] = pm::recip(a);
    o[4] = pm::rsqrt(a);
    o[5] = pm::exp(a);
    o[6] = pm::silu(a);
    o[7] = pm::sin_cos_of_product(float(i % 1000), f, 0.0f, (i & 1) != 0);
  }
  const char* names[8] = {"flush", "add", "mul", "recip", "rsqrt", "exp", "silu", "sin_cos"};
  for (int j = 0; j < 8; ++j) {
    size_t bad = 0, first = n;
    for (size_t i = 0; i < n; ++i) {
      float g = gpu[8 * i + j], c = cpu[8 * i + j];
      if (std::bit_cast<uint32_t>(g) != std::bit_cast<uint32_t>(c) && !(std::isnan(g) && std::isnan(c))) {
        if (!bad++) first = i;
      }
    }
    EXPECT_EQ(bad, 0u) << names[j] << ": first at x = " << (first < n ? x[first] : 0.0f) << " gpu "
                       << (first < n ? gpu[8 * first + j] : 0.0f) << " cpu " << (first < n ? cpu[8 * first + j] : 0.0f);
  }
  // No result is subnormal or -0 (the flush after every operation).
  for (float v : gpu) ASSERT_FALSE(v != 0.0f && std::fabs(v) < std::numeric_limits<float>::min()) << v;
  for (float v : gpu) ASSERT_FALSE(v == 0.0f && std::signbit(v));

  // Accuracy against double, in ulps of the float result, where the result is a normal float.
  auto worst_ulps = [&](int j, const std::function<double(double)>& exact, const std::function<bool(float)>& domain) {
    double worst = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!domain(x[i])) continue;
      double e = exact(double(x[i]));
      if (!(std::fabs(e) >= std::numeric_limits<float>::min() && std::fabs(e) < std::numeric_limits<float>::max()))
        continue;
      float ef = float(e);
      double ulp = std::nextafter(std::fabs(ef), std::numeric_limits<float>::infinity()) - std::fabs(ef);
      worst = std::max(worst, std::fabs(double(cpu[8 * i + j]) - e) / ulp);
    }
    return worst;
  };
  auto normal = [](float v) { return std::isfinite(v) && std::fabs(v) >= std::numeric_limits<float>::min(); };
  double recip_ulps = worst_ulps(
      3, [](double v) { return 1.0 / v; }, normal);
  double rsqrt_ulps = worst_ulps(
      4, [](double v) { return 1.0 / std::sqrt(v); }, [&](float v) { return normal(v) && v > 0; });
  double exp_ulps = worst_ulps(
      5, [](double v) { return std::exp(v); }, normal);
  double silu_ulps = worst_ulps(
      6, [](double v) { return v / (1.0 + std::exp(-v)); }, [&](float v) { return normal(v) && std::fabs(v) < 80.0f; });
  std::printf("portable math, worst ulps vs double: recip %.3f rsqrt %.3f exp %.3f silu %.3f\n", recip_ulps, rsqrt_ulps,
              exp_ulps, silu_ulps);
  // The bounds docs/portable.md states.
  EXPECT_LE(recip_ulps, 1.5);
  EXPECT_LE(rsqrt_ulps, 1.5);
  EXPECT_LE(exp_ulps, 1.5);
  EXPECT_LE(silu_ulps, 4.0);
}

TEST_F(PortableTest, ConvVariantsGiveTheSameBytes) {
  struct Case {
    Shape x;
    int64_t co;
    ops::Conv2dParams p;
  };
  uint64_t seed = 100;
  for (const Case& c :
       {Case{{2, 40, 16, 16}, 24, {3, 1, ops::Padding::Circular}},  // vec4 path in fast mode
        Case{{1, 20, 9, 7}, 12, {3, 2, ops::Padding::Zeros}}, Case{{2, 64, 8, 8}, 32, {1, 1, ops::Padding::Zeros}},
        Case{{1, 96, 6, 6}, 70, {3, 1, ops::Padding::Zeros}}}) {
    SCOPED_TRACE(shape_string(c.x));
    Tensor x = random_tensor(c.x, ++seed);
    Tensor w = random_tensor({c.co, c.x[1], c.p.kernel, c.p.kernel}, ++seed, -0.2f, 0.2f);
    Tensor b = random_tensor({c.co}, ++seed);
    Tensor y = poisoned_tensor(ops::conv2d_output_shape(c.x, c.co, c.p));
    expect_same_bytes("conv2d", [&](CommandSequence& seq) {
      ops::conv2d_forward(seq, x, w, &b, y, c.p);
      return y;
    });
  }
}

TEST_F(PortableTest, FastConvVariantsDifferSoTheComparisonCanFail) {
  Tensor x = random_tensor({2, 64, 16, 16}, 7);
  Tensor w = random_tensor({32, 64, 3, 3}, 8, -0.2f, 0.2f);
  Tensor y = poisoned_tensor({2, 32, 16, 16});
  auto [texel, tiles] = both_variants(false, [&](CommandSequence& seq) {
    ops::conv2d_forward(seq, x, w, nullptr, y, {3, 1, ops::Padding::Zeros});
    return y;
  });
  EXPECT_GT(differing(texel, tiles), 0u) << "fast mode: the variants' summation orders differ";
}

TEST_F(PortableTest, LinearAttentionAndGroupNormVariantsGiveTheSameBytes) {
  Tensor x = random_tensor({5, 130}, 21);
  Tensor w = random_tensor({70, 130}, 22, -0.2f, 0.2f);
  Tensor b = random_tensor({70}, 23);
  Tensor y = poisoned_tensor({5, 70});
  expect_same_bytes("linear", [&](CommandSequence& seq) {
    ops::linear_forward(seq, x, w, &b, y);
    return y;
  });

  Tensor qkv = random_tensor({2, 3 * 32, 8, 8}, 24, -2, 2);
  Tensor probs = poisoned_tensor({2, 4, 64, 64}, "probs");
  Tensor o = poisoned_tensor({2, 32, 8, 8});
  expect_same_bytes("attention", [&](CommandSequence& seq) {
    ops::attention_forward(seq, qkv, probs, o, 4);
    return o;
  });

  for (Shape s : {Shape{2, 32, 8, 8}, Shape{1, 24, 5, 7}}) {
    SCOPED_TRACE(shape_string(s));
    Tensor gx = random_tensor(s, 25, -3, 5);
    Tensor gamma = random_tensor({s[1]}, 26), beta = random_tensor({s[1]}, 27);
    Tensor gy = poisoned_tensor(s);
    ops::GroupNormParams p;
    p.groups = 8;
    p.fused_silu = true;
    Tensor stats = poisoned_tensor(ops::groupnorm_stats_shape(s, p), "stats");
    expect_same_bytes("groupnorm", [&](CommandSequence& seq) {
      ops::groupnorm_forward(seq, gx, gamma, beta, gy, stats, p);
      return gy;
    });
  }
}

// Whole samples of the bundled model at 32x32, every sampler: the same bytes from both variants.
// A suite of its own so that tools/test.sh can leave this minute-long run out of the ASan pass.
using PortableSamplesTest = PortableTest;
TEST_F(PortableSamplesTest, BundledModelSamplesAreTheSameBytesInBothVariants) {
  LoadedModel m = load_model(ctx(), std::filesystem::path(TESSERA_SOURCE_DIR) / "models" / "default.safetensors");
  const std::vector<uint64_t> seeds{11};
  const std::vector<uint32_t> labels{1};
  for (SamplerKind kind : {SamplerKind::Ddpm, SamplerKind::Ddim, SamplerKind::DpmSolver2M}) {
    SCOPED_TRACE(to_string(kind));
    SamplerOptions o;
    o.kind = kind;
    o.steps = 4;
    std::span<const uint32_t> label_span =
        m.info.config.num_classes > 0 ? std::span<const uint32_t>(labels) : std::span<const uint32_t>{};
    auto sample = [&](bool portable) {
      PortableModeScope mode(ctx(), portable);
      std::vector<std::vector<float>> images;
      for_each_variant([&](KernelVariant) {
        Sampler sampler(ctx(), m.info.config, *m.params, 1, 32, 32, o);
        images.push_back(sampler.sample({seeds, label_span}));
      });
      return images;
    };
    std::vector<std::vector<float>> portable = sample(true);
    EXPECT_EQ(differing(portable[0], portable[1]), 0u) << "portable mode, TexelFetch vs SharedTiles";
    if (kind == SamplerKind::Ddpm) {
      std::vector<std::vector<float>> fast = sample(false);
      EXPECT_GT(differing(fast[0], fast[1]), 0u) << "fast mode: the variants should differ somewhere";
    }
  }
}

// Where a portable U-Net forward's time goes, per kernel, beside the fast mode's. A probe, not a
// test: run with --gtest_also_run_disabled_tests and TESSERA_VALIDATION=0.
TEST_F(PortableTest, DISABLED_ForwardProfile) {
  LoadedModel m = load_model(ctx(), std::filesystem::path(TESSERA_SOURCE_DIR) / "models" / "default.safetensors");
  for (bool portable : {false, true}) {
    PortableModeScope mode(ctx(), portable);
    UNet unet(ctx(), m.info.config, *m.params, 1, 32, 32, false);
    CommandSequence seq(ctx());
    seq.profile_each_dispatch();
    unet.record_forward(seq);
    seq.run();
    seq.run();
    std::map<std::string, double> by_kernel;
    double total = 0;
    for (const auto& t : seq.dispatch_timings()) {
      by_kernel[t.kernel] += t.ms;
      total += t.ms;
    }
    std::printf("%s mode: %.2f ms per forward\n", portable ? "portable" : "fast", total);
    for (const auto& [k, ms] : by_kernel) std::printf("  %-40s %8.2f ms\n", k.c_str(), ms);
  }
}

}  // namespace
}  // namespace tessera::testing
