#include "support/vulkan_test.hpp"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <sstream>

namespace tessera::testing {

Context& context() {
  static std::unique_ptr<Context> ctx = [] {
    ContextOptions o;
    const char* v = std::getenv("TESSERA_VALIDATION");
    o.validation = !(v && std::string(v) == "0");
    // TESSERA_TEST_PORTABLE=1 runs the suite's ops in portable mode (docs/portable.md): the op
    // tests then check the portable kernels against their double references.
    const char* portable = std::getenv("TESSERA_TEST_PORTABLE");
    o.portable = portable && std::string(portable) == "1";
    auto c = Context::create(o);
    std::printf("%s\n  kernel variant: %s\n", c->info().describe().c_str(), kernel_variant_name(c->variant()));
    return c;
  }();
  return *ctx;
}

void VulkanTest::SetUp() {
  context().clear_validation_messages();
  arena_ = std::make_unique<Arena>(context(), VkDeviceSize(256) << 20, "test");
}

void VulkanTest::TearDown() {
  arena_.reset();
  auto messages = context().validation_messages();
  for (const auto& m : messages) ADD_FAILURE() << "Vulkan validation: " << m;
  context().clear_validation_messages();
}

Tensor VulkanTest::random_tensor(const Shape& shape, uint64_t seed, float lo, float hi, const std::string& name) {
  Tensor t = arena_->allocate(shape, DType::F32, name);
  upload_f32(t, random_floats(static_cast<size_t>(t.numel()), seed, lo, hi));
  return t;
}

Tensor VulkanTest::poisoned_tensor(const Shape& shape, const std::string& name) {
  Tensor t = arena_->allocate(shape, DType::F32, name);
  std::vector<float> nan(static_cast<size_t>(t.numel()), std::numeric_limits<float>::quiet_NaN());
  upload_f32(t, nan);
  return t;
}

void VulkanTest::for_each_variant(const std::function<void(KernelVariant)>& body) {
  KernelVariant saved = ctx().variant();
  for (KernelVariant v : {KernelVariant::TexelFetch, KernelVariant::SharedTiles}) {
    SCOPED_TRACE(std::string("kernel variant ") + kernel_variant_name(v));
    ctx().set_variant(v);
    try {
      body(v);
    } catch (...) {
      ctx().set_variant(saved);
      throw;
    }
  }
  ctx().set_variant(saved);
}

std::vector<float> random_floats(size_t n, uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 1);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<double> to_double(std::span<const float> v) { return std::vector<double>(v.begin(), v.end()); }

void expect_close(std::span<const float> got, std::span<const double> ref, double tolerance, const std::string& what,
                  double floor_fraction) {
  ASSERT_EQ(got.size(), ref.size()) << what << ": element counts differ";
  double scale = 0;
  for (double r : ref) scale = std::max(scale, std::abs(r));
  double floor = std::max(floor_fraction * scale, std::numeric_limits<double>::min());
  double worst = 0;
  size_t worst_i = 0, bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) {
      ++bad;
      if (bad == 1) ADD_FAILURE() << what << ": element " << i << " is " << got[i] << " (reference " << ref[i] << ")";
      continue;
    }
    double e = std::abs(got[i] - ref[i]) / std::max(std::abs(ref[i]), floor);
    if (e > worst) {
      worst = e;
      worst_i = i;
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " non-finite elements (unwritten outputs stay NaN)";
  EXPECT_LE(worst, tolerance) << what << ": worst relative error " << worst << " at element " << worst_i << " (got "
                              << got[worst_i] << ", reference " << ref[worst_i] << ", scale " << scale << ")";
}

void expect_close_normwise(std::span<const float> got, std::span<const double> ref, double tolerance,
                           const std::string& what) {
  ASSERT_EQ(got.size(), ref.size()) << what << ": element counts differ";
  double scale = 0, worst = 0;
  size_t worst_i = 0, bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    scale = std::max(scale, std::abs(ref[i]));
    if (!std::isfinite(got[i])) {
      ++bad;
      continue;
    }
    double e = std::abs(got[i] - ref[i]);
    if (e > worst) {
      worst = e;
      worst_i = i;
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " non-finite elements";
  double rel = scale > 0 ? worst / scale : worst;
  EXPECT_LE(rel, tolerance) << what << ": normwise relative error " << rel << " (worst element " << worst_i << ": got "
                            << got[worst_i] << ", reference " << ref[worst_i] << ", scale " << scale << ")";
}

std::vector<double> finite_difference(const std::function<double(const std::vector<double>&)>& f,
                                      std::vector<double> x, double h) {
  std::vector<double> g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    double keep = x[i];
    x[i] = keep + h;
    double fp = f(x);
    x[i] = keep - h;
    double fm = f(x);
    x[i] = keep;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

}  // namespace tessera::testing
