// Tests of the counter-based RNG (runtime/include/tessera/rng.hpp, shaders/include/philox.glsl,
// ops/random.hpp): Philox known answers, the keying, the accuracy of the division-free
// log/sqrt/sincos against double, the moments of the normals, and GPU == CPU bit for bit.
// Built with -ffp-contract=off (CMakeLists.txt) like philox.cpp, so the double/float
// references below are not fused either.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numbers>
#include <string>
#include <vector>

#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/random.hpp"
#include "tessera/rng.hpp"

namespace tessera::testing {
namespace {

using rng::PhiloxCounter;

// Known answers for Philox4x32 with 10 rounds, from the Random123 distribution's
// examples/kat_vectors (D. E. Shaw Research; lines "philox4x32 10 ...": counter[4] key[2] ->
// output[4]).
TEST(RngCpu, PhiloxKnownAnswers) {
  struct Kat {
    PhiloxCounter counter;
    rng::PhiloxKey key;
    PhiloxCounter expected;
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) EXPECT_EQ(rng::philox4x32_10(k.counter, k.key), k.expected);
}

TEST(RngCpu, KeyAndCounterLayout) {
  const uint64_t seed = 0x0123456789ABCDEFull;
  const uint32_t stream = 0xDEADBEEF;
  const uint64_t block = 0x0000000500000007ull;
  const PhiloxCounter x = rng::philox4x32_10({7, 5, stream, 0}, {0x89ABCDEF, 0x01234567});
  EXPECT_EQ(rng::philox_block(seed, stream, block), x);
  EXPECT_EQ(rng::key_words(seed, stream), (std::array<uint32_t, 3>{0x89ABCDEF, 0x01234567, stream}));
  for (uint32_t w = 0; w < 4; ++w) {
    EXPECT_EQ(std::bit_cast<uint32_t>(rng::uniform(seed, stream, block * 4 + w)),
              std::bit_cast<uint32_t>(rng::uniform_from_bits(x[w])));
    const auto pair = rng::normal_pair_from_bits(x[w & 2], x[(w & 2) + 1]);
    EXPECT_EQ(std::bit_cast<uint32_t>(rng::normal(seed, stream, block * 4 + w)),
              std::bit_cast<uint32_t>(pair[w & 1]));
  }
  // Uniform format: exact, inside (0, 1), symmetric.
  EXPECT_EQ(rng::uniform_from_bits(0), 0x1p-24f);
  EXPECT_EQ(rng::uniform_from_bits(0xFFFFFFFFu), 1.0f - 0x1p-24f);
  EXPECT_EQ(rng::uniform_from_bits(0x80000000u), 0.5f + 0x1p-24f);
  // fill_* at any offset agrees with the per-element functions.
  for (uint64_t offset : {uint64_t(0), uint64_t(1), uint64_t(6), (uint64_t(1) << 32) - 3}) {
    std::vector<float> normals(11), uniforms(11);
    rng::fill_normal(normals, seed, stream, offset);
    rng::fill_uniform(uniforms, seed, stream, offset);
    for (size_t i = 0; i < normals.size(); ++i) {
      EXPECT_EQ(normals[i], rng::normal(seed, stream, offset + i)) << offset << "+" << i;
      EXPECT_EQ(uniforms[i], rng::uniform(seed, stream, offset + i)) << offset << "+" << i;
    }
  }
}

// The fitted functions against double over every input the generator can produce (all 2^23
// uniforms for log and sqrt, all 2^24 angles for sincos) plus a wide sweep of their domains.
// Measured maxima are printed; the bounds are ~2x them and far below the 1e-6 the noise needs.
TEST(RngCpu, ExactMathAccuracy) {
  double log_err = 0, sqrt_err = 0, normal_err = 0;
  for (uint32_t m = 0; m < (1u << 23); ++m) {
    const float u = rng::uniform_from_bits(m << 9);
    const double ref = std::log(double(u));
    log_err = std::max(log_err, std::abs(rng::exact_math::log_positive(u) - ref) / std::abs(ref));
    const float w = -2.0f * rng::exact_math::log_positive(u);
    sqrt_err = std::max(sqrt_err, std::abs(rng::exact_math::sqrt_positive(w) / std::sqrt(double(w)) - 1));
  }
  for (double x = 0x1p-126; x < 0x1p127; x *= 1.0001) {
    const float xf = float(x);
    if (xf == 1.0f) continue;  // log is exactly 0 there
    log_err = std::max(log_err, std::abs(rng::exact_math::log_positive(xf) / std::log(double(xf)) - 1));
  }
  for (double x = 0x1p-100; x < 0x1p100; x *= 1.0001) {
    const float xf = float(x);
    sqrt_err = std::max(sqrt_err, std::abs(rng::exact_math::sqrt_positive(xf) / std::sqrt(double(xf)) - 1));
  }
  double sin_rel = 0, cos_rel = 0, sincos_abs = 0;
  uint32_t zeros = 0;
  for (uint32_t a = 0; a < (1u << 24); ++a) {
    const double theta = 2 * std::numbers::pi * (a + 0.5) / double(1u << 24);
    const auto [s, c] = rng::exact_math::sincos_turns24(a);
    const double rs = std::sin(theta), rc = std::cos(theta);
    sincos_abs = std::max({sincos_abs, std::abs(s - rs), std::abs(c - rc)});
    zeros += (s == 0) + (c == 0);
    sin_rel = std::max(sin_rel, std::abs(s / rs - 1));
    cos_rel = std::max(cos_rel, std::abs(c / rc - 1));
  }
  // Box-Muller as a whole against double on real Philox words; error relative to the radius.
  for (uint64_t block = 0; block < (1u << 16); ++block) {
    const PhiloxCounter x = rng::philox_block(42, 3, block);
    for (int pair = 0; pair < 2; ++pair) {
      const auto z = rng::normal_pair_from_bits(x[2 * pair], x[2 * pair + 1]);
      const double r = std::sqrt(-2 * std::log(double(rng::uniform_from_bits(x[2 * pair]))));
      const double theta = 2 * std::numbers::pi * ((x[2 * pair + 1] >> 8) + 0.5) / double(1u << 24);
      normal_err = std::max({normal_err, std::abs(z[0] - r * std::cos(theta)) / r,
                             std::abs(z[1] - r * std::sin(theta)) / r});
    }
  }
  std::printf("[ rng ] max relative error vs double: log %.2e, sqrt %.2e, sin %.2e, cos %.2e "
              "(sincos absolute %.2e), normals (error / radius) %.2e\n",
              log_err, sqrt_err, sin_rel, cos_rel, sincos_abs, normal_err);
  EXPECT_LT(log_err, 3e-7);
  EXPECT_LT(sqrt_err, 2e-7);
  EXPECT_LT(sin_rel, 3e-7);
  EXPECT_LT(cos_rel, 3e-7);
  EXPECT_LT(sincos_abs, 2e-7);
  EXPECT_LT(normal_err, 1e-6);
  EXPECT_EQ(zeros, 0u) << "sin/cos must never be 0 (a zero's sign is not portable across devices)";
}

TEST(RngCpu, MomentsOfOneMillion) {
  constexpr size_t kCount = size_t(1) << 20;
  std::vector<float> z(kCount), z_other_stream(kCount), u(kCount);
  rng::fill_normal(z, 2024, 0, 0);
  rng::fill_normal(z_other_stream, 2024, 1, 0);
  rng::fill_uniform(u, 2024, 2, 0);
  double sum = 0, sum_sq = 0, within_one = 0, cross = 0, u_sum = 0, u_sq = 0;
  for (size_t i = 0; i < kCount; ++i) {
    sum += z[i];
    sum_sq += double(z[i]) * z[i];
    within_one += std::abs(z[i]) < 1.0f;
    cross += double(z[i]) * z_other_stream[i];
    u_sum += u[i];
    u_sq += double(u[i]) * u[i];
  }
  const double mean = sum / kCount, var = sum_sq / kCount - mean * mean;
  const double u_mean = u_sum / kCount, u_var = u_sq / kCount - u_mean * u_mean;
  std::printf("[ rng ] 2^20 normals: mean %.5f variance %.5f P(|z|<1) %.5f, cross-stream correlation %.5f; "
              "uniforms: mean %.5f variance*12 %.5f\n",
              mean, var, within_one / kCount, cross / kCount, u_mean, u_var * 12);
  // Statistical bounds: the standard error of the mean is 1e-3 and of the variance 1.4e-3, so
  // these are > 3 sigma while still catching a wrong scale, offset or correlated streams.
  EXPECT_LT(std::abs(mean), 0.005);
  EXPECT_LT(std::abs(var - 1), 0.005);
  EXPECT_LT(std::abs(within_one / kCount - 0.682689), 0.002);
  EXPECT_LT(std::abs(cross / kCount), 0.005);
  EXPECT_LT(std::abs(u_mean - 0.5), 0.002);
  EXPECT_LT(std::abs(u_var * 12 - 1), 0.005);
}

class RngGpuTest : public VulkanTest {
 protected:
  // A [slots, 3] key tensor holding the given keys.
  Tensor key_tensor(const std::vector<std::pair<uint64_t, uint32_t>>& keys) {
    Tensor t = arena().allocate({int64_t(keys.size()), 3}, DType::U32, "rng_keys");
    upload_keys(t, keys);
    return t;
  }
  static void upload_keys(const Tensor& t, const std::vector<std::pair<uint64_t, uint32_t>>& keys) {
    std::vector<uint32_t> words;
    for (auto [seed, stream] : keys)
      for (uint32_t w : rng::key_words(seed, stream)) words.push_back(w);
    upload_u32(t, words);
  }
  // Counts elements whose bits differ; reports the first few.
  static size_t count_bit_mismatches(const std::vector<float>& got, const std::vector<float>& want,
                                     const std::string& what) {
    size_t bad = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      if (std::bit_cast<uint32_t>(got[i]) == std::bit_cast<uint32_t>(want[i])) continue;
      if (++bad <= 3)
        ADD_FAILURE() << what << ": element " << i << " gpu " << got[i] << " (0x" << std::hex
                      << std::bit_cast<uint32_t>(got[i]) << ") cpu " << want[i] << " (0x"
                      << std::bit_cast<uint32_t>(want[i]) << ")" << std::dec;
    }
    return bad;
  }
};

TEST_F(RngGpuTest, MatchesCpuBitForBit) {
  struct Case {
    uint64_t seed;
    uint32_t stream;
    uint64_t offset;
    int64_t count;
  };
  // Over 1M normals and 1M uniforms in all; offsets not multiples of 4, across the 2^32 carry of
  // the 64-bit index, and near 2^64; odd sizes down to one element.
  const std::vector<Case> cases = {
      {0, 0, 0, int64_t(1) << 20},
      {0x0123456789ABCDEFull, 7, 3, 300007},
      {~uint64_t(0), 0xFFFFFFFFu, (uint64_t(1) << 32) - 5, 4099},
      {12345, 1, ~uint64_t(0) - 40, 37},
      {99, 2, 1, 1},
      {99, 2, 2, 2},
      {99, 2, 5, 3},
  };
  std::vector<std::pair<uint64_t, uint32_t>> keys;
  for (const Case& c : cases) keys.push_back({c.seed, c.stream});
  Tensor key_rows = key_tensor(keys);
  size_t compared = 0;
  for (size_t slot = 0; slot < cases.size(); ++slot) {
    const Case& c = cases[slot];
    Tensor normals = poisoned_tensor({c.count}, "normals");
    Tensor uniforms = poisoned_tensor({c.count}, "uniforms");
    CommandSequence seq(ctx());
    const ops::RandomFill fill{c.offset, uint32_t(slot)};
    ops::random_normal(seq, key_rows, normals, fill);
    ops::random_uniform(seq, key_rows, uniforms, fill);
    seq.run();
    std::vector<float> want_normals(size_t(c.count)), want_uniforms(size_t(c.count));
    rng::fill_normal(want_normals, c.seed, c.stream, c.offset);
    rng::fill_uniform(want_uniforms, c.seed, c.stream, c.offset);
    const std::string what = "seed " + std::to_string(c.seed) + " stream " + std::to_string(c.stream) +
                             " offset " + std::to_string(c.offset) + " n " + std::to_string(c.count);
    EXPECT_EQ(count_bit_mismatches(download_f32(normals), want_normals, "normals " + what), 0u);
    EXPECT_EQ(count_bit_mismatches(download_f32(uniforms), want_uniforms, "uniforms " + what), 0u);
    compared += size_t(c.count);
  }
  EXPECT_GE(compared, size_t(1) << 20);
}

TEST_F(RngGpuTest, ReplayWithNewKeyChangesTheNumbers) {
  // An odd-sized 4-D tensor, as the sampler would fill.
  Tensor noise = poisoned_tensor({3, 3, 17, 19}, "noise");
  Tensor keys = key_tensor({{1, 0}});
  CommandSequence seq(ctx());
  ops::random_normal(seq, keys, noise, {.index_offset = 10});
  const size_t n = size_t(noise.numel());
  std::vector<float> want(n);
  for (auto [seed, stream] : std::vector<std::pair<uint64_t, uint32_t>>{{1, 0}, {1, 1}, {2, 0}, {1, 0}}) {
    upload_keys(keys, {{seed, stream}});
    seq.run();  // the same recording, a new key
    rng::fill_normal(want, seed, stream, 10);
    EXPECT_EQ(count_bit_mismatches(download_f32(noise), want, "replay seed " + std::to_string(seed)), 0u);
  }
  // Different keys really give different numbers (not one fixed pattern).
  std::vector<float> a(n), b(n);
  rng::fill_normal(a, 1, 0, 10);
  rng::fill_normal(b, 1, 1, 10);
  size_t equal = 0;
  for (size_t i = 0; i < n; ++i) equal += a[i] == b[i];
  EXPECT_LT(equal, n / 100);
}

TEST_F(RngGpuTest, BadArgumentsAreClearErrors) {
  Tensor out = poisoned_tensor({5}, "noise");
  Tensor float_keys = random_tensor({3}, 1, 0, 1, "float_keys");
  Tensor keys = key_tensor({{1, 0}, {2, 0}});
  CommandSequence seq(ctx());
  auto expect_error = [&](auto record, const std::string& needle) {
    try {
      record();
      ADD_FAILURE() << "expected ShapeError mentioning " << needle;
    } catch (const ShapeError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error([&] { ops::random_normal(seq, float_keys, out); }, "float_keys [3] f32");
  expect_error([&] { ops::random_uniform(seq, keys, out, {.key_slot = 2}); }, "key_slot 2");
  expect_error([&] { ops::random_normal(seq, keys, keys); }, "rng_keys [2,3] u32");
  Tensor bad_shape = arena().allocate({4}, DType::U32, "short_keys");
  expect_error([&] { ops::random_normal(seq, bad_shape, out); }, "short_keys [4] u32");
}

}  // namespace
}  // namespace tessera::testing
