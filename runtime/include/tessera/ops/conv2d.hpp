// 2-D convolution (NCHW, f32): forward and the three backward passes of the U-Net's convs.
//
// Weight [Co, Ci, k, k], bias [Co]. Kernel 1 or 3, stride 1 or 2, padding k/2 with zeros or
// circular (wrapping at the borders: a convolution on a torus, so textures tile). Output size:
// zeros padding uses PyTorch's floor((in + 2*pad - k) / stride) + 1; circular needs even H, W
// for stride 2 and gives in / stride.
//
// x, y, dx and dy may be channel views with a batch stride (Tensor::channel_slice), so the
// U-Net's skip concat needs no copy. Weights, bias and their gradients must be dense.
// Kernel variants (ctx.variant()): TexelFetch = texel buffers + subgroupBroadcast, no shared
// memory (fast on lavapipe); SharedTiles = shared-memory tiled implicit GEMM. TexelFetch needs
// subgroup operations with >= 8 lanes and falls back to the SharedTiles kernels without them.
// Stride-1 convs on maps whose width is a multiple of 8 (the U-Net's) take a faster TexelFetch
// path with vec4 texel fetches; other shapes a generic one. TexelFetch binds x/dy/w as texel
// buffers, whose views must start 16-byte aligned (channel views of maps whose H*W is a
// multiple of 4 always are); a misaligned view is a ShapeError.
#pragma once
#include <cstdint>

#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera {
class Context;
}

namespace tessera::ops {

enum class Padding { Zeros, Circular };

struct Conv2dParams {
  int kernel = 3;  // 1 or 3
  int stride = 1;  // 1 or 2
  Padding padding = Padding::Zeros;
};

const char* padding_name(Padding);

// Output height or width for an input extent; throws ShapeError for unsupported parameters
// (kernel/stride values, odd extents with circular stride 2).
int64_t conv2d_output_size(int64_t in, const Conv2dParams& p);
// [N, out_channels, Ho, Wo] for an input of shape [N, Ci, H, W].
Shape conv2d_output_shape(const Shape& input, int64_t out_channels, const Conv2dParams& p);
// Multiply-adds counted as 2 flops: 2 * N * Co * Ci * k * k * Ho * Wo. The same count holds
// for the forward pass and for each of the data and weight gradients.
double conv2d_flops(const Shape& input, int64_t out_channels, const Conv2dParams& p);

// y = conv(x, w) + bias. `bias` may be null. y must not overlap x.
void conv2d_forward(CommandSequence& seq, const Tensor& x, const Tensor& w, const Tensor* bias, const Tensor& y,
                    const Conv2dParams& p);

// dx = dL/dx (accumulate = false) or dx += dL/dx (accumulate = true).
void conv2d_backward_data(CommandSequence& seq, const Tensor& dy, const Tensor& w, const Tensor& dx,
                          const Conv2dParams& p, bool accumulate);

// dw = dL/dw (overwritten). The sum over N*Ho*Wo pixels is split into chunks whose partial sums
// go to `scratch` (allocated by the caller, at least conv2d_backward_weight_scratch_elements
// f32 elements, dense) and are then added in a fixed order by a second dispatch: deterministic.
// `scratch` may be null when that count is 0 (the sum then runs in one pass).
void conv2d_backward_weight(CommandSequence& seq, const Tensor& x, const Tensor& dy, const Tensor& dw,
                            const Conv2dParams& p, const Tensor* scratch);
// Scratch f32 elements conv2d_backward_weight needs on this context for these shapes (0: none).
int64_t conv2d_backward_weight_scratch_elements(const Context& ctx, const Shape& input, const Shape& weight,
                                                const Conv2dParams& p);

// db[c] = sum over N, H, W of dy[n, c, h, w] (overwritten; fixed summation order).
void conv2d_backward_bias(CommandSequence& seq, const Tensor& dy, const Tensor& db);

}  // namespace tessera::ops
