#include <algorithm>
#include <cstring>

#include "ops/reference/conv2d.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/conv2d.hpp"

namespace tessera::testing {
namespace {

using ops::Conv2dParams;
using ops::Padding;
using reference::Conv2dShapes;

// fp32 sums of up to a few hundred products: 1e-4 relative to the element (or to 1% of the
// tensor's largest magnitude for near-cancelling elements) leaves ample margin.
constexpr double kTolerance = 1e-4;

std::string label(const Conv2dShapes& s, const char* pass) {
  return std::string(pass) + " " + shape_string(s.input()) + " -> " + std::to_string(s.out_channels) + " ch, " +
         std::to_string(s.params.kernel) + "x" + std::to_string(s.params.kernel) + " s" +
         std::to_string(s.params.stride) + " " + ops::padding_name(s.params.padding);
}

// Every kernel x stride x padding combination, with odd sizes for stride 1, even ones for
// stride 2 (odd ones too with zero padding), channel counts that are not multiples of any tile, and batches 1..3; plus
// stride-1 cases whose width is a multiple of 8 (the TexelFetch variant's vec4 kernel).
std::vector<Conv2dShapes> all_configs() {
  const int64_t channel_pairs[][2] = {{3, 5}, {17, 33}, {33, 17}, {5, 3}};
  std::vector<Conv2dShapes> configs;
  int i = 0;
  for (int kernel : {1, 3})
    for (int stride : {1, 2})
      for (Padding padding : {Padding::Zeros, Padding::Circular}) {
        int64_t h = stride == 1 ? (i % 2 ? 9 : 7) : (i % 2 ? 10 : 6);
        int64_t w = stride == 1 ? 7 : 6;
        const auto& ch = channel_pairs[i % 4];
        configs.push_back({1 + i % 3, ch[0], h, w, ch[1], {kernel, stride, padding}});
        ++i;
      }
  // Stride 2 with zero padding on odd sizes: the data gradient's parity classes then differ in
  // size (even rows/columns one more than odd ones), down to a 1-pixel side with no odd class.
  for (int kernel : {1, 3}) {
    configs.push_back({2, 17, 7, 5, 9, {kernel, 2, Padding::Zeros}});
    configs.push_back({1, 9, 1, 3, 5, {kernel, 2, Padding::Zeros}});
  }
  // Stride 1 with widths that are multiples of 8 take the TexelFetch variant's vec4 path.
  for (int kernel : {1, 3})
    for (Padding padding : {Padding::Zeros, Padding::Circular}) {
      const auto& ch = channel_pairs[i % 4];
      configs.push_back({1 + i % 3, ch[0], i % 2 ? 5 : 3, i % 2 ? 8 : 16, ch[1], {kernel, 1, padding}});
      ++i;
    }
  // Even heights: the vec4 kernel then gives each lane two pixel rows (down to a height of 2).
  for (int kernel : {1, 3})
    for (Padding padding : {Padding::Zeros, Padding::Circular}) {
      const auto& ch = channel_pairs[i % 4];
      configs.push_back({1 + i % 3, ch[0], i % 2 ? 2 : 6, i % 2 ? 16 : 8, ch[1], {kernel, 1, padding}});
      ++i;
    }
  return configs;
}

class Conv2dTest : public VulkanTest {
 protected:
  // Records `record` into a fresh sequence and runs it.
  template <class F>
  void run(F&& record) {
    CommandSequence seq(ctx());
    record(seq);
    seq.run();
  }
  Tensor scratch_for(const Conv2dShapes& s) {
    int64_t n = ops::conv2d_backward_weight_scratch_elements(ctx(), s.input(), s.weight(), s.params);
    if (n == 0) return {};
    return poisoned_tensor({n}, "dw_scratch");
  }
};

TEST_F(Conv2dTest, AllPassesMatchReference) {
  bool split_used = false;
  uint64_t seed = 10;
  for (const Conv2dShapes& s : all_configs()) {
    for_each_variant([&](KernelVariant) {
      Tensor x = random_tensor(s.input(), ++seed, -1, 1, "x");
      Tensor w = random_tensor(s.weight(), ++seed, -0.5, 0.5, "w");
      Tensor b = random_tensor({s.out_channels}, ++seed, -1, 1, "b");
      Tensor dy = random_tensor(s.output(), ++seed, -1, 1, "dy");
      Tensor y = poisoned_tensor(s.output(), "y");
      Tensor dx = poisoned_tensor(s.input(), "dx");
      Tensor dw = poisoned_tensor(s.weight(), "dw");
      Tensor db = poisoned_tensor({s.out_channels}, "db");
      Tensor scratch = scratch_for(s);
      split_used = split_used || scratch.valid();
      run([&](CommandSequence& seq) {
        ops::conv2d_forward(seq, x, w, &b, y, s.params);
        ops::conv2d_backward_data(seq, dy, w, dx, s.params, false);
        ops::conv2d_backward_weight(seq, x, dy, dw, s.params, scratch.valid() ? &scratch : nullptr);
        ops::conv2d_backward_bias(seq, dy, db);
      });
      auto hx = to_double(download_f32(x)), hw = to_double(download_f32(w));
      auto hb = to_double(download_f32(b)), hdy = to_double(download_f32(dy));
      expect_close(download_f32(y), reference::conv2d_forward(s, hx, hw, hb), kTolerance, label(s, "forward"));
      expect_close(download_f32(dx), reference::conv2d_backward_data(s, hdy, hw), kTolerance, label(s, "backward_data"));
      expect_close(download_f32(dw), reference::conv2d_backward_weight(s, hx, hdy), kTolerance,
                   label(s, "backward_weight"));
      expect_close(download_f32(db), reference::conv2d_backward_bias(s, hdy), kTolerance, label(s, "backward_bias"));
    });
  }
  EXPECT_TRUE(split_used) << "no configuration exercised the split-K weight gradient";
}

TEST_F(Conv2dTest, ForwardWithoutBiasAndLargerBatch) {
  Conv2dShapes s{3, 33, 8, 12, 17, {3, 1, Padding::Zeros}};
  for_each_variant([&](KernelVariant) {
    Tensor x = random_tensor(s.input(), 1, -1, 1, "x");
    Tensor w = random_tensor(s.weight(), 2, -0.5, 0.5, "w");
    Tensor y = poisoned_tensor(s.output(), "y");
    run([&](CommandSequence& seq) { ops::conv2d_forward(seq, x, w, nullptr, y, s.params); });
    expect_close(download_f32(y),
                 reference::conv2d_forward(s, to_double(download_f32(x)), to_double(download_f32(w)), {}), kTolerance,
                 label(s, "forward (no bias)"));
  });
}

TEST_F(Conv2dTest, BackwardDataAccumulates) {
  for (Conv2dParams p : {Conv2dParams{3, 1, Padding::Circular}, Conv2dParams{3, 2, Padding::Zeros}}) {
    Conv2dShapes s{2, 5, 6, 6, 17, p};
    for_each_variant([&](KernelVariant) {
      Tensor dy = random_tensor(s.output(), 3, -1, 1, "dy");
      Tensor w = random_tensor(s.weight(), 4, -0.5, 0.5, "w");
      Tensor dx = random_tensor(s.input(), 5, -1, 1, "dx");
      auto before = to_double(download_f32(dx));
      run([&](CommandSequence& seq) { ops::conv2d_backward_data(seq, dy, w, dx, s.params, true); });
      auto ref = reference::conv2d_backward_data(s, to_double(download_f32(dy)), to_double(download_f32(w)));
      for (size_t i = 0; i < ref.size(); ++i) ref[i] += before[i];
      expect_close(download_f32(dx), ref, kTolerance, label(s, "backward_data accumulate"));
    });
  }
}

// x, y, dx and dy as channel views of concat tensors (batch stride > per-sample size), the way
// the U-Net's skip connections use them. The other channels of each concat must stay intact.
TEST_F(Conv2dTest, BatchStridedChannelViews) {
  // 6x6: the generic kernels; 4x8 (width a multiple of 8): the TexelFetch variant's vec4 kernel.
  for (auto [h, w] : {std::pair<int64_t, int64_t>{6, 6}, {4, 8}}) {
  const int64_t hw = h * w;
  Conv2dShapes s{3, 5, h, w, 17, {3, 1, Padding::Zeros}};
  for_each_variant([&](KernelVariant) {
    Tensor x_cat = random_tensor({3, 12, h, w}, 6, -1, 1, "x_cat");
    Tensor dy_cat = random_tensor({3, 20, h, w}, 7, -1, 1, "dy_cat");
    Tensor y_cat = random_tensor({3, 21, h, w}, 8, -1, 1, "y_cat");
    Tensor dx_cat = random_tensor({3, 9, h, w}, 9, -1, 1, "dx_cat");
    Tensor x = x_cat.channel_slice(4, 5), dy = dy_cat.channel_slice(3, 17);
    Tensor y = y_cat.channel_slice(4, 17), dx = dx_cat.channel_slice(4, 5);
    Tensor w = random_tensor(s.weight(), 10, -0.5, 0.5, "w");
    Tensor b = random_tensor({17}, 11, -1, 1, "b");
    Tensor dw = poisoned_tensor(s.weight(), "dw");
    Tensor db = poisoned_tensor({17}, "db");
    Tensor scratch = scratch_for(s);
    auto y_before = download_f32(y_cat), dx_before = download_f32(dx_cat);
    run([&](CommandSequence& seq) {
      ops::conv2d_forward(seq, x, w, &b, y, s.params);
      ops::conv2d_backward_data(seq, dy, w, dx, s.params, false);
      ops::conv2d_backward_weight(seq, x, dy, dw, s.params, scratch.valid() ? &scratch : nullptr);
      ops::conv2d_backward_bias(seq, dy, db);
    });
    // Gathers channels [first, first+count) of a downloaded dense [N, C, H, W] tensor.
    auto channels = [](const std::vector<float>& all, int64_t n, int64_t c, int64_t hw, int64_t first, int64_t count) {
      std::vector<double> v;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = first; j < first + count; ++j)
          v.insert(v.end(), all.begin() + (i * c + j) * hw, all.begin() + (i * c + j + 1) * hw);
      return v;
    };
    auto hx = channels(download_f32(x_cat), 3, 12, hw, 4, 5);
    auto hdy = channels(download_f32(dy_cat), 3, 20, hw, 3, 17);
    auto hweight = to_double(download_f32(w));
    auto y_after = download_f32(y_cat), dx_after = download_f32(dx_cat);
    auto y_ref = reference::conv2d_forward(s, hx, hweight, to_double(download_f32(b)));
    auto dx_ref = reference::conv2d_backward_data(s, hdy, hweight);
    auto y_got = channels(y_after, 3, 21, hw, 4, 17), dx_got = channels(dx_after, 3, 9, hw, 4, 5);
    expect_close(std::vector<float>(y_got.begin(), y_got.end()), y_ref, kTolerance, "forward into a view");
    expect_close(std::vector<float>(dx_got.begin(), dx_got.end()), dx_ref, kTolerance, "backward_data into a view");
    expect_close(download_f32(dw), reference::conv2d_backward_weight(s, hx, hdy), kTolerance, "backward_weight of views");
    expect_close(download_f32(db), reference::conv2d_backward_bias(s, hdy), kTolerance, "backward_bias of a view");
    for (int64_t n = 0; n < 3; ++n) {
      for (int64_t c : {0, 1, 2, 3})
        for (int64_t p = 0; p < hw; ++p)
          ASSERT_EQ(y_after[(n * 21 + c) * hw + p], y_before[(n * 21 + c) * hw + p]) << "y_cat channel " << c;
      for (int64_t c : {0, 1, 2, 3})
        for (int64_t p = 0; p < hw; ++p)
          ASSERT_EQ(dx_after[(n * 9 + c) * hw + p], dx_before[(n * 9 + c) * hw + p]) << "dx_cat channel " << c;
    }
  });
  }
}

// The reference backward passes against central finite differences of the reference forward
// on L = sum(y * g), in double precision.
TEST(Conv2dReference, BackwardMatchesFiniteDifferences) {
  for (const Conv2dShapes& full : all_configs()) {
    Conv2dShapes s{1, 2, full.params.stride == 2 ? 4 : 5, 4, 3, full.params};
    std::vector<double> x = to_double(random_floats(shape_numel(s.input()), 1));
    std::vector<double> w = to_double(random_floats(shape_numel(s.weight()), 2));
    std::vector<double> b = to_double(random_floats(s.out_channels, 3));
    std::vector<double> g = to_double(random_floats(shape_numel(s.output()), 4));
    auto loss = [&](const std::vector<double>& xx, const std::vector<double>& ww, const std::vector<double>& bb) {
      auto y = reference::conv2d_forward(s, xx, ww, bb);
      double l = 0;
      for (size_t i = 0; i < y.size(); ++i) l += y[i] * g[i];
      return l;
    };
    auto check = [&](const std::vector<double>& analytic, const std::vector<double>& numeric, const char* what) {
      ASSERT_EQ(analytic.size(), numeric.size());
      for (size_t i = 0; i < analytic.size(); ++i)
        EXPECT_NEAR(analytic[i], numeric[i], 1e-7) << label(s, what) << " element " << i;
    };
    check(reference::conv2d_backward_data(s, g, w),
          finite_difference([&](const std::vector<double>& v) { return loss(v, w, b); }, x), "dx");
    check(reference::conv2d_backward_weight(s, x, g),
          finite_difference([&](const std::vector<double>& v) { return loss(x, v, b); }, w), "dw");
    check(reference::conv2d_backward_bias(s, g),
          finite_difference([&](const std::vector<double>& v) { return loss(x, w, v); }, b), "db");
  }
}

// Circular padding makes the conv commute with circular shifts. Forward and data gradient
// compute every output with the same sequence of operations wherever it sits (taps and
// channels in a fixed order, no border special cases), so a shift of the input by (sy, sx)
// (a multiple of the stride) shifts the output by (sy, sx) / stride bit for bit. The weight
// gradient is invariant under shifting both x and dy, but it sums over pixels, and a shift
// changes which pixel comes first in that sum (and which split it falls in): equal only up
// to rounding, so it is compared with the usual tolerance.
TEST_F(Conv2dTest, CircularShiftEquivariance) {
  for (int stride : {1, 2}) {
    Conv2dShapes s{2, 5, 8, 16, 17, {3, stride, Padding::Circular}};
    const int64_t sy = 2, sx = 4;  // multiples of both strides
    auto shift = [](const std::vector<float>& v, const Shape& sh, int64_t dy_, int64_t dx_) {
      std::vector<float> out(v.size());
      int64_t h = sh[2], w = sh[3], planes = sh[0] * sh[1];
      for (int64_t p = 0; p < planes; ++p)
        for (int64_t y = 0; y < h; ++y)
          for (int64_t x = 0; x < w; ++x)
            out[(p * h + (y + dy_) % h) * w + (x + dx_) % w] = v[(p * h + y) * w + x];
      return out;
    };
    for_each_variant([&](KernelVariant) {
      Tensor x = random_tensor(s.input(), 21, -1, 1, "x");
      Tensor dy = random_tensor(s.output(), 22, -1, 1, "dy");
      Tensor w = random_tensor(s.weight(), 23, -0.5, 0.5, "w");
      Tensor xs = arena().allocate(s.input(), DType::F32, "x_shifted");
      Tensor dys = arena().allocate(s.output(), DType::F32, "dy_shifted");
      upload_f32(xs, shift(download_f32(x), s.input(), sy, sx));
      upload_f32(dys, shift(download_f32(dy), s.output(), sy / stride, sx / stride));
      Tensor y = poisoned_tensor(s.output(), "y"), ys = poisoned_tensor(s.output(), "y_shifted");
      Tensor dx = poisoned_tensor(s.input(), "dx"), dxs = poisoned_tensor(s.input(), "dx_shifted");
      Tensor dw = poisoned_tensor(s.weight(), "dw"), dws = poisoned_tensor(s.weight(), "dw_shifted");
      Tensor scratch = scratch_for(s), scratch2 = scratch_for(s);
      run([&](CommandSequence& seq) {
        ops::conv2d_forward(seq, x, w, nullptr, y, s.params);
        ops::conv2d_forward(seq, xs, w, nullptr, ys, s.params);
        ops::conv2d_backward_data(seq, dy, w, dx, s.params, false);
        ops::conv2d_backward_data(seq, dys, w, dxs, s.params, false);
        ops::conv2d_backward_weight(seq, x, dy, dw, s.params, scratch.valid() ? &scratch : nullptr);
        ops::conv2d_backward_weight(seq, xs, dys, dws, s.params, scratch2.valid() ? &scratch2 : nullptr);
      });
      auto y_expected = shift(download_f32(y), s.output(), sy / stride, sx / stride);
      auto dx_expected = shift(download_f32(dx), s.input(), sy, sx);
      auto ys_got = download_f32(ys), dxs_got = download_f32(dxs);
      EXPECT_EQ(0, std::memcmp(ys_got.data(), y_expected.data(), ys_got.size() * 4)) << "forward, stride " << stride;
      EXPECT_EQ(0, std::memcmp(dxs_got.data(), dx_expected.data(), dxs_got.size() * 4))
          << "backward_data, stride " << stride;
      auto dws_got = download_f32(dws);
      expect_close(dws_got, to_double(download_f32(dw)), kTolerance, "backward_weight under a shift");
    });
  }
}

TEST_F(Conv2dTest, WeightGradientIsDeterministic) {
  Conv2dShapes s{3, 17, 10, 10, 5, {3, 1, Padding::Zeros}};
  for_each_variant([&](KernelVariant) {
    Tensor x = random_tensor(s.input(), 31, -1, 1, "x");
    Tensor dy = random_tensor(s.output(), 32, -1, 1, "dy");
    Tensor dw = poisoned_tensor(s.weight(), "dw");
    Tensor scratch = scratch_for(s);
    CommandSequence seq(ctx());
    ops::conv2d_backward_weight(seq, x, dy, dw, s.params, scratch.valid() ? &scratch : nullptr);
    seq.run();
    auto first = download_f32(dw);
    seq.run();
    auto second = download_f32(dw);
    EXPECT_EQ(0, std::memcmp(first.data(), second.data(), first.size() * 4));
  });
}

TEST_F(Conv2dTest, ErrorsNameTensorsAndExpectations) {
  Conv2dParams p{3, 1, Padding::Zeros};
  Tensor x = random_tensor({2, 5, 8, 8}, 1, -1, 1, "x");
  Tensor y = poisoned_tensor({2, 7, 8, 8}, "y");
  CommandSequence seq(ctx());
  auto expect_error = [](auto&& f, const std::vector<std::string>& needles) {
    try {
      f();
      ADD_FAILURE() << "expected ShapeError";
    } catch (const ShapeError& e) {
      for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
    }
  };
  Tensor w_bad = random_tensor({7, 4, 3, 3}, 2, -1, 1, "w_bad");
  expect_error([&] { ops::conv2d_forward(seq, x, w_bad, nullptr, y, p); },
               {"conv2d_forward", "w_bad [7,4,3,3] f32", "[Co, 5, 3, 3]", "x [2,5,8,8] f32"});
  Tensor w = random_tensor({7, 5, 3, 3}, 3, -1, 1, "w");
  Tensor x_u32 = arena().allocate({2, 5, 8, 8}, DType::U32, "x_u32");
  expect_error([&] { ops::conv2d_forward(seq, x_u32, w, nullptr, y, p); }, {"x_u32 [2,5,8,8] u32", "f32"});
  Conv2dParams circular2{3, 2, Padding::Circular};
  Tensor x_odd = random_tensor({1, 5, 7, 8}, 4, -1, 1, "x_odd");
  Tensor y_odd = poisoned_tensor({1, 7, 4, 4}, "y_odd");
  expect_error([&] { ops::conv2d_forward(seq, x_odd, w, nullptr, y_odd, circular2); },
               {"circular", "stride 2", "even", "7"});
  Tensor y_wrong = poisoned_tensor({2, 7, 4, 4}, "y_wrong");
  expect_error([&] { ops::conv2d_backward_data(seq, y_wrong, w, x, p, false); }, {"y_wrong [2,7,4,4] f32", "[2,7,8,8]"});
  Tensor db_bad = poisoned_tensor({6}, "db_bad");
  expect_error([&] { ops::conv2d_backward_bias(seq, y, db_bad); }, {"db_bad [6] f32", "[7]"});
}

}  // namespace
}  // namespace tessera::testing
