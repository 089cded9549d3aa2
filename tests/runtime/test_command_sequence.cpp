#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/elementwise.hpp"

namespace tessera::testing {
namespace {

class CommandSequenceTest : public VulkanTest {};

TEST_F(CommandSequenceTest, BarriersOnlyBetweenDependentDispatches) {
  Tensor a = random_tensor({64}, 1), b = random_tensor({64}, 2);
  Tensor c = poisoned_tensor({64}, "c"), d = poisoned_tensor({64}, "d"), e = poisoned_tensor({64}, "e");
  CommandSequence seq(ctx());
  ops::add(seq, a, b, c);  // independent of the next
  ops::add(seq, b, a, d);
  EXPECT_EQ(seq.barrier_count(), 0u);
  ops::add(seq, c, d, e);  // reads c and d: needs a barrier
  EXPECT_EQ(seq.barrier_count(), 1u);
  ops::scale_add(seq, a, b, a, 1, 1);  // writes a, which was read before the last barrier? no: read after it
  EXPECT_EQ(seq.barrier_count(), 1u);  // a was last read by the first two adds, before the barrier
  ops::add(seq, a, a, b);  // reads a written just now
  EXPECT_EQ(seq.barrier_count(), 2u);
  seq.run();
  auto ha = download_f32(a), hb = download_f32(b), he = download_f32(e);
  auto a0 = random_floats(64, 1), b0 = random_floats(64, 2);
  for (int i = 0; i < 64; ++i) {
    EXPECT_FLOAT_EQ(he[i], (a0[i] + b0[i]) + (b0[i] + a0[i]));
    EXPECT_FLOAT_EQ(ha[i], a0[i] + b0[i]);
    EXPECT_FLOAT_EQ(hb[i], ha[i] + ha[i]);
  }
}

TEST_F(CommandSequenceTest, WriteAfterReadNeedsABarrier) {
  Tensor a = random_tensor({16}, 1), b = random_tensor({16}, 2), c = poisoned_tensor({16}, "c");
  CommandSequence seq(ctx());
  ops::add(seq, a, b, c);
  ops::add(seq, a, a, b);  // overwrites b, which the first dispatch reads
  EXPECT_EQ(seq.barrier_count(), 1u);
}

TEST_F(CommandSequenceTest, MisuseIsAClearError) {
  Tensor a = random_tensor({16}, 1);
  CommandSequence seq(ctx());
  const Kernel& k = ctx().kernels().get({"scale_add", {BindAs::Storage, BindAs::Storage, BindAs::Storage}, {64, 1, 1}});
  EXPECT_THROW(seq.dispatch(k, {in(a), in(a)}, Groups{1, 1, 1}), Error);             // missing binding
  EXPECT_THROW(seq.dispatch(k, {in(a), texel(a), out(a)}, Groups{1, 1, 1}), Error);  // wrong kind
  Tensor unallocated;
  EXPECT_THROW(seq.dispatch(k, {in(a), in(unallocated), out(a)}, Groups{1, 1, 1}), Error);
  // A view starting at byte 4 cannot be bound on a device with 16-byte alignment.
  Tensor wide = random_tensor({1, 5, 1, 1}, 3);
  Tensor view = wide.channel_slice(1, 1);
  if (ctx().info().min_storage_buffer_offset_alignment > 4) {
    try {
      ops::add(seq, view, view, view);
      FAIL() << "expected ShapeError";
    } catch (const ShapeError& e) {
      EXPECT_NE(std::string(e.what()).find("offset alignment"), std::string::npos) << e.what();
    }
  }
  seq.run();
  EXPECT_THROW(ops::add(seq, a, a, a), Error);  // recording after finish
}

TEST_F(CommandSequenceTest, FillCopyAndTimestamps) {
  Tensor a = poisoned_tensor({33}, "a"), b = poisoned_tensor({33}, "b");
  CommandSequence seq(ctx());
  seq.mark("start");
  seq.fill(a, 2.5f);
  seq.copy(a, b);
  seq.mark("end");
  seq.run();
  for (float v : download_f32(b)) EXPECT_EQ(v, 2.5f);
  if (ctx().info().timestamp_valid_bits) {
    auto t = seq.timings();
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].label, "end");
    EXPECT_GE(t[0].ms, 0.0);
  }
}

// The benchmarks' per-dispatch profile: one timing per dispatch, fill and copy after the call,
// named by shader and by the mark that ends its phase; the results stay what they were.
TEST_F(CommandSequenceTest, ProfileTimesEachDispatchWithoutChangingResults) {
  Tensor a = random_tensor({64}, 1), b = random_tensor({64}, 2);
  Tensor c = poisoned_tensor({64}, "c"), d = poisoned_tensor({64}, "d");
  CommandSequence seq(ctx());
  seq.mark("start");
  ops::add(seq, a, b, c);  // before profiling: not timed
  seq.profile_each_dispatch();
  ops::add(seq, b, a, d);
  seq.fill(a, 1.0f);
  seq.mark("first");
  ops::add(seq, c, d, b);
  seq.copy(b, a);
  seq.run();
  auto a0 = random_floats(64, 1), b0 = random_floats(64, 2);
  auto hb = download_f32(b), ha = download_f32(a);
  for (int i = 0; i < 64; ++i) {
    EXPECT_FLOAT_EQ(hb[i], (a0[i] + b0[i]) + (b0[i] + a0[i]));
    EXPECT_EQ(ha[i], hb[i]);
  }
  auto t = seq.dispatch_timings();
  if (!ctx().info().timestamp_valid_bits) {
    EXPECT_TRUE(t.empty());
    return;
  }
  ASSERT_EQ(t.size(), 4u);
  const char* kernels[] = {"fill", "copy"};
  EXPECT_EQ(t[1].kernel, kernels[0]);
  EXPECT_EQ(t[3].kernel, kernels[1]);
  EXPECT_EQ(t[0].kernel, t[2].kernel);  // both adds: the elementwise shader
  EXPECT_EQ(t[0].phase, "first");
  EXPECT_EQ(t[1].phase, "first");
  EXPECT_EQ(t[2].phase, "");  // no mark after it
  for (const auto& x : t) EXPECT_GE(x.ms, 0.0) << x.kernel;
}

// Enough dispatches to need more than one timestamp pool (1024 per pool).
TEST_F(CommandSequenceTest, ProfileSpansManyDispatches) {
  if (!ctx().info().timestamp_valid_bits) GTEST_SKIP() << "no timestamps on this queue";
  Tensor a = random_tensor({16}, 1), b = poisoned_tensor({16}, "b");
  CommandSequence seq(ctx());
  seq.profile_each_dispatch();
  for (int i = 0; i < 1500; ++i) ops::add(seq, a, a, b);
  seq.run();
  auto t = seq.dispatch_timings();
  ASSERT_EQ(t.size(), 1500u);
  for (const auto& x : t) ASSERT_GE(x.ms, 0.0);
}

TEST(GroupsTest, SpreadsLargeDispatchesOverY) {
  auto g = groups_1d(uint64_t(65535) * 256 * 3 + 5, 256);
  EXPECT_LE(g.x, 65535u);
  EXPECT_GE(uint64_t(g.x) * g.y * 256, uint64_t(65535) * 256 * 3 + 5);
  EXPECT_EQ(groups_1d(10, 256).x, 1u);
}

}  // namespace
}  // namespace tessera::testing
