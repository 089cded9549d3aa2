// Nearest-neighbour 2x upsampling of NCHW f32 tensors (the U-Net decoder's resolution steps).
// Any tensor may be a batch-strided view (Tensor::channel_slice), e.g. half of a concat.
#pragma once
#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera::ops {

// y[n, c, 2i + a, 2j + b] = x[n, c, i, j]; x [N,C,H,W], y [N,C,2H,2W]. y must not overlap x.
void upsample_nearest2x_forward(CommandSequence& seq, const Tensor& x, const Tensor& y);

// dx[n, c, i, j] = sum of the four dy[n, c, 2i + a, 2j + b]; overwritten, or added to dx when
// `accumulate`. dy [N,C,2H,2W], dx [N,C,H,W]; dx must not overlap dy.
void upsample_nearest2x_backward(CommandSequence& seq, const Tensor& dy, const Tensor& dx, bool accumulate);

}  // namespace tessera::ops
