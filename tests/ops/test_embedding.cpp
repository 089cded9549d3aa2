#include <cstring>
#include <limits>

#include "ops/reference/embedding.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/embedding.hpp"

namespace tessera::testing {
namespace {

class EmbeddingTest : public VulkanTest {
 protected:
  Tensor labels_tensor(const std::vector<uint32_t>& labels) {
    Tensor t = arena().allocate({int64_t(labels.size())}, DType::U32, "labels");
    upload_u32(t, labels);
    return t;
  }
};

std::vector<uint32_t> random_labels(size_t n, uint32_t rows, uint64_t seed) {
  std::vector<float> r = random_floats(n, seed, 0.0f, float(rows));
  std::vector<uint32_t> labels(n);
  for (size_t i = 0; i < n; ++i) labels[i] = std::min(uint32_t(r[i]), rows - 1);
  return labels;
}

TEST_F(EmbeddingTest, ForwardMatchesReference) {
  struct Case {
    int64_t rows, dim, n;
  };
  for (Case c : {Case{1, 1, 1}, Case{10, 7, 5}, Case{11, 256, 33}, Case{1001, 129, 17}}) {
    Tensor table = random_tensor({c.rows, c.dim}, 1, -2, 2, "table");
    auto labels = random_labels(size_t(c.n), uint32_t(c.rows), 2);
    Tensor lt = labels_tensor(labels);
    Tensor out = poisoned_tensor({c.n, c.dim}, "out");
    CommandSequence seq(ctx());
    ops::embedding_forward(seq, table, lt, out);
    seq.run();
    auto ref = reference::embedding_forward(to_double(download_f32(table)), c.rows, c.dim, labels);
    // A pure copy: exact.
    expect_close(download_f32(out), ref, 0.0, "embedding_forward " + shape_string({c.rows, c.dim, c.n}));
  }
}

TEST_F(EmbeddingTest, OutOfRangeLabelWritesZerosAndIsIgnoredByBackward) {
  Tensor table = random_tensor({4, 5}, 3, -1, 1, "table");
  std::vector<uint32_t> labels{2, 4, 0xffffffffu, 2};
  Tensor lt = labels_tensor(labels);
  Tensor out = poisoned_tensor({4, 5}, "out");
  Tensor dout = random_tensor({4, 5}, 4, -1, 1, "dout");
  Tensor dtable = poisoned_tensor({4, 5}, "dtable");
  CommandSequence seq(ctx());
  ops::embedding_forward(seq, table, lt, out);
  ops::embedding_backward(seq, lt, dout, dtable);
  seq.run();
  auto o = download_f32(out);
  for (int c = 0; c < 5; ++c) {
    EXPECT_EQ(o[1 * 5 + c], 0.0f);
    EXPECT_EQ(o[2 * 5 + c], 0.0f);
  }
  auto ref = reference::embedding_backward(labels, to_double(download_f32(dout)), 4, 5);
  expect_close(download_f32(dtable), ref, 1e-7, "embedding_backward with out-of-range labels");
}

TEST_F(EmbeddingTest, BackwardMatchesReferenceWithRepeatedLabels) {
  struct Case {
    int64_t rows, dim, n;
  };
  for (Case c : {Case{1, 3, 9}, Case{7, 13, 31}, Case{10, 256, 64}}) {
    auto labels = random_labels(size_t(c.n), uint32_t(c.rows), 5);  // n > rows: labels repeat
    Tensor lt = labels_tensor(labels);
    Tensor dout = random_tensor({c.n, c.dim}, 6, -1, 1, "dout");
    Tensor dtable = poisoned_tensor({c.rows, c.dim}, "dtable");
    CommandSequence seq(ctx());
    ops::embedding_backward(seq, lt, dout, dtable);
    seq.run();
    auto ref = reference::embedding_backward(labels, to_double(download_f32(dout)), c.rows, c.dim);
    // Up to n f32 additions of O(1) terms: error ~n * 6e-8 relative to the row scale.
    expect_close(download_f32(dtable), ref, 1e-5, "embedding_backward " + shape_string({c.rows, c.dim, c.n}));
  }
}

TEST_F(EmbeddingTest, BackwardMatchesFiniteDifferences) {
  const int64_t rows = 3, dim = 4;
  std::vector<uint32_t> labels{1, 0, 1, 2, 1};
  const int64_t n = int64_t(labels.size());
  auto weights = to_double(random_floats(size_t(n * dim), 7));  // loss = sum(weights * out)
  auto table0 = to_double(random_floats(size_t(rows * dim), 8));
  auto loss = [&](const std::vector<double>& table) {
    auto out = reference::embedding_forward(table, rows, dim, labels);
    double s = 0;
    for (size_t i = 0; i < out.size(); ++i) s += weights[i] * out[i];
    return s;
  };
  auto fd = finite_difference(loss, table0);
  auto analytic = reference::embedding_backward(labels, weights, rows, dim);
  for (size_t i = 0; i < fd.size(); ++i) EXPECT_NEAR(analytic[i], fd[i], 1e-8) << "table element " << i;

  Tensor lt = labels_tensor(labels);
  Tensor dout = arena().allocate({n, dim}, DType::F32, "dout");
  std::vector<float> wf(weights.begin(), weights.end());
  upload_f32(dout, wf);
  Tensor dtable = poisoned_tensor({rows, dim}, "dtable");
  CommandSequence seq(ctx());
  ops::embedding_backward(seq, lt, dout, dtable);
  seq.run();
  expect_close(download_f32(dtable), analytic, 1e-6, "embedding_backward vs reference (fd case)");
}

TEST_F(EmbeddingTest, BackwardIsBitwiseDeterministic) {
  auto labels = random_labels(300, 3, 9);
  Tensor lt = labels_tensor(labels);
  Tensor dout = random_tensor({300, 17}, 10, -1, 1, "dout");
  Tensor dtable = poisoned_tensor({3, 17}, "dtable");
  CommandSequence seq(ctx());
  ops::embedding_backward(seq, lt, dout, dtable);
  seq.run();
  auto first = download_f32(dtable);
  seq.run();
  auto second = download_f32(dtable);
  EXPECT_EQ(0, std::memcmp(first.data(), second.data(), first.size() * sizeof(float)));
}

TEST_F(EmbeddingTest, WrongShapesAreClearErrors) {
  Tensor table = random_tensor({10, 8}, 1, -1, 1, "table");
  Tensor lt = labels_tensor({1, 2, 3});
  Tensor out = poisoned_tensor({3, 7}, "out");
  CommandSequence seq(ctx());
  try {
    ops::embedding_forward(seq, table, lt, out);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("out [3,7] f32"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[3,8]"), std::string::npos) << e.what();
  }
  Tensor float_labels = random_tensor({3}, 2, 0, 1, "float_labels");
  EXPECT_THROW(ops::embedding_forward(seq, table, float_labels, poisoned_tensor({3, 8})), ShapeError);
}

}  // namespace
}  // namespace tessera::testing
