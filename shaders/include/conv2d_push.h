// The push-constant block of the conv2d kernels that walk images (every conv2d_*.comp except
// conv2d_bwd_bias and conv2d_reduce_splits), declared once for both sides: the shaders get it
// through conv2d.glsl as `pc`, C++ (runtime/src/ops/conv2d.cpp) includes this file for
// tessera::ops::ConvPush. Only 32-bit ints, so GLSL's push-constant layout and C++'s agree;
// tests/ops/test_shader_variants.cpp checks each kernel's SPIR-V offsets against offsetof.
//
// Forward-conv semantics: "in" is x/dx, "out" is y/dy, whichever the kernel reads or writes.
// Batch strides let x/y/dx/dy be channel views into a concat. split_pixels is the split-K chunk
// of the weight gradient: output pixels (n, y, x) per split, or output rows (n, y) per split in
// the conv2d_bwd_weight_s1_* kernels.
#ifndef TESSERA_CONV2D_PUSH_H
#define TESSERA_CONV2D_PUSH_H

#ifdef __cplusplus
namespace tessera::ops {
static_assert(sizeof(int) == 4, "ConvPush mirrors GLSL's 32-bit int");
struct ConvPush {
#else
layout(push_constant) uniform ConvPush {
#endif
  int batch;
  int in_channels, in_h, in_w;
  int out_channels, out_h, out_w;
  int in_batch_stride, out_batch_stride;
  int flags;  // kConvAccumulate | kConvBias
  int split_pixels;
#ifdef __cplusplus
};
#else
} pc;
#endif

const int kConvAccumulate = 1;  // add into dst instead of overwriting it
const int kConvBias = 2;        // add bias[m] (forward only)

#ifdef __cplusplus
}  // namespace tessera::ops
#endif

#endif
