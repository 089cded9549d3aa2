#include "ops/reference/timestep_embedding.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/timestep_embedding.hpp"

namespace tessera::testing {
namespace {

class TimestepEmbeddingTest : public VulkanTest {};

// The tolerance is absolute (floor_fraction 1 makes expect_close divide by max |ref| = ~1):
// the shader forms t*freq in double-float, reduces it by pi/2 in extended precision and
// evaluates its own polynomials, so the error is a few f32 roundings of values <= 1,
// independent of t. A plain f32 argument would be off by up to t*freq*2^-24 ~ 6e-5 at t=999.
constexpr double kAbsoluteTolerance = 3e-7;  // measured worst on lavapipe: 7.6e-8

TEST_F(TimestepEmbeddingTest, IntegerTimestepsMatchDoubleReference) {
  for (int64_t dim : {1, 2, 7, 128, 321}) {
    std::vector<uint32_t> steps{0, 1, 2, 17, 250, 500, 998, 999};
    for (float r : random_floats(25, uint64_t(dim), 0, 1000)) steps.push_back(uint32_t(r));
    Tensor t = arena().allocate({int64_t(steps.size())}, DType::U32, "timesteps");
    upload_u32(t, steps);
    ops::TimestepEmbedding embedding(arena(), dim);
    Tensor out = poisoned_tensor({int64_t(steps.size()), dim}, "embedding");
    CommandSequence seq(ctx());
    embedding.record(seq, t, out);
    seq.run();
    auto ref = reference::timestep_embedding(std::vector<double>(steps.begin(), steps.end()), dim);
    auto got = download_f32(out);
    if (dim == 1) {
      for (float v : got) EXPECT_EQ(v, 0.0f);  // half = 0: only the zero pad column
      continue;
    }
    expect_close(got, ref, kAbsoluteTolerance, "timestep_embedding u32 dim " + std::to_string(dim), 1.0);
    if (dim % 2) {
      for (size_t n = 0; n < steps.size(); ++n) EXPECT_EQ(got[n * dim + dim - 1], 0.0f) << "odd pad column";
    }
  }
}

TEST_F(TimestepEmbeddingTest, FloatTimestepsMatchDoubleReference) {
  // Fractional and larger times (continuous-time samplers), plus a non-default max_period.
  for (double max_period : {10000.0, 1000.0}) {
    std::vector<float> steps = random_floats(40, 3, 0, 999);
    steps.push_back(0.5f);
    steps.push_back(999.999f);
    steps.push_back(12345.678f);
    steps.push_back(-3.25f);
    Tensor t = arena().allocate({int64_t(steps.size())}, DType::F32, "timesteps");
    upload_f32(t, steps);
    const int64_t dim = 96;
    ops::TimestepEmbedding embedding(arena(), dim, max_period);
    Tensor out = poisoned_tensor({int64_t(steps.size()), dim}, "embedding");
    CommandSequence seq(ctx());
    embedding.record(seq, t, out);
    seq.run();
    auto ref = reference::timestep_embedding(to_double(steps), dim, max_period);
    expect_close(download_f32(out), ref, kAbsoluteTolerance, "timestep_embedding f32", 1.0);
  }
}

TEST_F(TimestepEmbeddingTest, WrongShapesAreClearErrors) {
  ops::TimestepEmbedding embedding(arena(), 64);
  Tensor t = random_tensor({4}, 1, 0, 10, "timesteps");
  Tensor out = poisoned_tensor({4, 32}, "embedding");
  CommandSequence seq(ctx());
  try {
    embedding.record(seq, t, out);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("embedding [4,32] f32"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[4,64]"), std::string::npos) << e.what();
  }
  Tensor i32 = arena().allocate({4}, DType::I32, "timesteps_i32");
  EXPECT_THROW(embedding.record(seq, i32, poisoned_tensor({4, 64})), ShapeError);
  EXPECT_THROW(ops::TimestepEmbedding(arena(), 0), ShapeError);
}

}  // namespace
}  // namespace tessera::testing
