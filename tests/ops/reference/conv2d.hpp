// CPU double-precision reference for conv2d (NCHW, dense): a direct loop over output pixels
// and taps, written independently of the shaders (the backward passes scatter through the
// forward mapping instead of inverting it).
#pragma once
#include <vector>

#include "tessera/ops/conv2d.hpp"
#include "tessera/tensor.hpp"

namespace tessera::reference {

struct Conv2dShapes {
  int64_t batch, in_channels, in_h, in_w, out_channels;
  ops::Conv2dParams params;
  int64_t out_h() const;
  int64_t out_w() const;
  Shape input() const { return {batch, in_channels, in_h, in_w}; }
  Shape weight() const { return {out_channels, in_channels, params.kernel, params.kernel}; }
  Shape output() const { return {batch, out_channels, out_h(), out_w()}; }
};

// y = conv(x, w) + bias (bias may be empty).
std::vector<double> conv2d_forward(const Conv2dShapes& s, const std::vector<double>& x, const std::vector<double>& w,
                                   const std::vector<double>& bias);
// dL/dx for upstream gradient dy.
std::vector<double> conv2d_backward_data(const Conv2dShapes& s, const std::vector<double>& dy,
                                         const std::vector<double>& w);
// dL/dw.
std::vector<double> conv2d_backward_weight(const Conv2dShapes& s, const std::vector<double>& x,
                                           const std::vector<double>& dy);
// dL/dbias.
std::vector<double> conv2d_backward_bias(const Conv2dShapes& s, const std::vector<double>& dy);

}  // namespace tessera::reference
