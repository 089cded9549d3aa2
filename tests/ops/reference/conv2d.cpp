#include "ops/reference/conv2d.hpp"

#include <functional>

namespace tessera::reference {

namespace {

// Input coordinate read by output coordinate o through tap t, or -1 for zero padding.
int64_t source_index(int64_t o, int t, int64_t in_size, const ops::Conv2dParams& p) {
  int64_t i = o * p.stride - p.kernel / 2 + t;
  if (p.padding == ops::Padding::Circular) return ((i % in_size) + in_size) % in_size;
  return i >= 0 && i < in_size ? i : -1;
}

// Calls visit(x_index, w_index, y_index) for every multiply-add of the convolution.
void for_each_term(const Conv2dShapes& s, const std::function<void(size_t, size_t, size_t)>& visit) {
  const int k = s.params.kernel;
  const int64_t ho = s.out_h(), wo = s.out_w();
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t co = 0; co < s.out_channels; ++co)
      for (int64_t oy = 0; oy < ho; ++oy)
        for (int64_t ox = 0; ox < wo; ++ox) {
          size_t yi = static_cast<size_t>(((n * s.out_channels + co) * ho + oy) * wo + ox);
          for (int64_t ci = 0; ci < s.in_channels; ++ci)
            for (int ky = 0; ky < k; ++ky) {
              int64_t iy = source_index(oy, ky, s.in_h, s.params);
              if (iy < 0) continue;
              for (int kx = 0; kx < k; ++kx) {
                int64_t ix = source_index(ox, kx, s.in_w, s.params);
                if (ix < 0) continue;
                size_t xi = static_cast<size_t>(((n * s.in_channels + ci) * s.in_h + iy) * s.in_w + ix);
                size_t wi = static_cast<size_t>(((co * s.in_channels + ci) * k + ky) * k + kx);
                visit(xi, wi, yi);
              }
            }
        }
}

}  // namespace

int64_t Conv2dShapes::out_h() const { return ops::conv2d_output_size(in_h, params); }
int64_t Conv2dShapes::out_w() const { return ops::conv2d_output_size(in_w, params); }

std::vector<double> conv2d_forward(const Conv2dShapes& s, const std::vector<double>& x, const std::vector<double>& w,
                                   const std::vector<double>& bias) {
  std::vector<double> y(static_cast<size_t>(shape_numel(s.output())), 0.0);
  for_each_term(s, [&](size_t xi, size_t wi, size_t yi) { y[yi] += w[wi] * x[xi]; });
  if (!bias.empty()) {
    size_t hw = static_cast<size_t>(s.out_h() * s.out_w());
    for (size_t i = 0; i < y.size(); ++i) y[i] += bias[(i / hw) % static_cast<size_t>(s.out_channels)];
  }
  return y;
}

std::vector<double> conv2d_backward_data(const Conv2dShapes& s, const std::vector<double>& dy,
                                         const std::vector<double>& w) {
  std::vector<double> dx(static_cast<size_t>(shape_numel(s.input())), 0.0);
  for_each_term(s, [&](size_t xi, size_t wi, size_t yi) { dx[xi] += w[wi] * dy[yi]; });
  return dx;
}

std::vector<double> conv2d_backward_weight(const Conv2dShapes& s, const std::vector<double>& x,
                                           const std::vector<double>& dy) {
  std::vector<double> dw(static_cast<size_t>(shape_numel(s.weight())), 0.0);
  for_each_term(s, [&](size_t xi, size_t wi, size_t yi) { dw[wi] += x[xi] * dy[yi]; });
  return dw;
}

std::vector<double> conv2d_backward_bias(const Conv2dShapes& s, const std::vector<double>& dy) {
  std::vector<double> db(static_cast<size_t>(s.out_channels), 0.0);
  size_t hw = static_cast<size_t>(s.out_h() * s.out_w());
  for (size_t i = 0; i < dy.size(); ++i) db[(i / hw) % static_cast<size_t>(s.out_channels)] += dy[i];
  return db;
}

}  // namespace tessera::reference
