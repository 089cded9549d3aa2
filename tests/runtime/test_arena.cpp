#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"

namespace tessera::testing {
namespace {

class ArenaTest : public VulkanTest {};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST_F(ArenaTest, AlignsTracksPeakAndReleases) {
  Arena a(ctx(), 1 << 20, "small");
  Tensor x = a.allocate({3}, DType::F32, "x");
  Tensor y = a.allocate({5, 7}, DType::F32, "y");
  EXPECT_EQ(x.offset() % Arena::kAlignment, 0u);
  EXPECT_EQ(y.offset() % Arena::kAlignment, 0u);
  EXPECT_GT(y.offset(), x.offset());
  auto m = a.mark();
  a.allocate({1000}, DType::F32, "temp");
  auto peak = a.peak();
  a.release(m);
  EXPECT_EQ(a.used(), m);
  EXPECT_EQ(a.peak(), peak);
  Tensor z = a.allocate({4}, DType::F32, "z");
  EXPECT_EQ(z.offset(), (m + Arena::kAlignment - 1) / Arena::kAlignment * Arena::kAlignment);
}

TEST_F(ArenaTest, ExhaustionNamesTensorAndSizes) {
  Arena a(ctx(), 1 << 20, "activations");
  a.allocate({200000}, DType::F32, "first");
  try {
    a.allocate({1, 64, 64, 64}, DType::F32, "down.0.out");
    FAIL() << "expected OutOfMemoryError";
  } catch (const OutOfMemoryError& e) {
    std::string m = e.what();
    EXPECT_TRUE(contains(m, "activations")) << m;
    EXPECT_TRUE(contains(m, "down.0.out")) << m;
    EXPECT_TRUE(contains(m, "[1,64,64,64]")) << m;
    EXPECT_TRUE(contains(m, "free")) << m;
  }
  // The arena stays usable after a failed allocation.
  EXPECT_NO_THROW(a.allocate({16}, DType::F32, "after"));
}

TEST_F(ArenaTest, OversizedArenaIsRefused) {
  EXPECT_THROW(Arena(ctx(), ctx().info().max_memory_allocation_size * 4, "huge"), OutOfMemoryError);
}

TEST_F(ArenaTest, BadShapesAndUploadSizes) {
  EXPECT_THROW(arena().allocate({2, 0, 3}, DType::F32, "empty"), ShapeError);
  Tensor t = arena().allocate({2, 3}, DType::F32, "t");
  EXPECT_THROW(upload_f32(t, std::vector<float>(5)), ShapeError);
  Tensor u = arena().allocate({4}, DType::U32, "u");
  EXPECT_THROW(upload_f32(u, std::vector<float>(4)), ShapeError);  // wrong dtype
}

TEST_F(ArenaTest, RoundTripsValues) {
  auto values = random_floats(1001, 7);
  Tensor t = arena().allocate({7, 11, 13}, DType::F32, "t");
  upload_f32(t, values);
  EXPECT_EQ(download_f32(t), values);
}

// The discrete-GPU path: memory the host cannot map goes through a staging buffer.
TEST_F(ArenaTest, StagingPathRoundTripsAndFeedsKernels) {
  Arena a(ctx(), 1 << 20, "unmapped", /*map_if_possible=*/false);
  EXPECT_FALSE(a.host_mapped());
  auto values = random_floats(777, 9);
  Tensor t = a.allocate({777}, DType::F32, "t");
  upload_f32(t, values);
  EXPECT_EQ(download_f32(t), values);
  CommandSequence seq(ctx());
  seq.fill(t, 1.5f);
  seq.run();
  for (float v : download_f32(t)) ASSERT_EQ(v, 1.5f);
}

TEST_F(ArenaTest, ViewsAndTheirErrors) {
  Tensor t = arena().allocate({2, 6, 4, 4}, DType::F32, "cat");
  Tensor hi = t.channel_slice(4, 2);
  EXPECT_EQ(hi.shape(), (Shape{2, 2, 4, 4}));
  EXPECT_EQ(hi.batch_stride(), 6 * 16);
  EXPECT_FALSE(hi.is_dense());
  EXPECT_EQ(hi.offset(), t.offset() + 4 * 16 * 4);
  EXPECT_EQ(hi.span_bytes(), (96 + 32) * 4u);
  EXPECT_THROW(t.channel_slice(5, 2), ShapeError);
  EXPECT_THROW(hi.reshape({64}), ShapeError);
  EXPECT_THROW(t.reshape({5, 5}), ShapeError);
  EXPECT_EQ(t.reshape({12, 16}).shape(), (Shape{12, 16}));
  Tensor second = t.batch_slice(1, 1);
  EXPECT_EQ(second.offset(), t.offset() + 96 * 4);
  EXPECT_THROW(t.batch_slice(1, 2), ShapeError);
}

}  // namespace
}  // namespace tessera::testing

namespace tessera::testing {
namespace {

TEST_F(ArenaTest, MeasuringArenaSizesARealOne) {
  auto m = Arena::measuring(ctx(), "plan");
  m->allocate({3, 5}, DType::F32, "a");
  m->allocate({1000}, DType::F32, "b");
  EXPECT_TRUE(m->is_measuring());
  Tensor a = m->allocate({7}, DType::F32, "c");
  EXPECT_THROW(upload_f32(a, std::vector<float>(7)), Error);
  Arena real(ctx(), m->peak(), "real");
  real.allocate({3, 5}, DType::F32, "a");
  real.allocate({1000}, DType::F32, "b");
  EXPECT_NO_THROW(real.allocate({7}, DType::F32, "c"));
  EXPECT_EQ(real.peak(), m->peak());
}

TEST_F(ArenaTest, ElementViews) {
  Tensor flat = arena().allocate({128}, DType::F32, "flat");
  Tensor w = flat.view(64, {4, 16}, "w");
  EXPECT_EQ(w.offset(), flat.offset() + 256);
  EXPECT_EQ(w.name(), "w");
  EXPECT_THROW(flat.view(100, {4, 16}, "too_far"), ShapeError);
}

}  // namespace
}  // namespace tessera::testing
