// Shared by the conv2d_* kernels: the specialization constants every conv kernel takes, the
// push-constant block `pc` (conv2d_push.h, shared with the C++ side) and the tap mappings
// between output and input coordinates.
//
// Constants (ids 3..5, after the local size in common.glsl):
//   KSIZE    kernel size (1 or 3); padding is KSIZE / 2
//   STRIDE   1 or 2
//   CIRCULAR 1: indices wrap around the borders (a convolution on a torus); 0: zero padding
// Kernel-specific constants start at id 6.
#ifndef TESSERA_CONV2D_GLSL
#define TESSERA_CONV2D_GLSL

layout(constant_id = 3) const int KSIZE = 3;
layout(constant_id = 4) const int STRIDE = 1;
layout(constant_id = 5) const int CIRCULAR = 0;

#include "conv2d_push.h"

const int PAD = KSIZE / 2;
const int TAPS = KSIZE * KSIZE;

// Forward direction: output coordinate `o`, kernel tap `t` (0..KSIZE-1) -> input coordinate.
// Returns false where the tap reads zero padding. Circular: the reach past a border is at most
// PAD (stride 2 needs an even size, see Conv2dParams), so one wrap suffices.
bool conv_tap_forward(int o, int t, int in_size, out int i) {
  i = o * STRIDE - PAD + t;
  if (CIRCULAR != 0) {
    i += i < 0 ? in_size : 0;
    i -= i >= in_size ? in_size : 0;
    return true;
  }
  return i >= 0 && i < in_size;
}

// Transposed direction (gradient w.r.t. the input): input coordinate `i`, tap `t` -> the
// output coordinate whose forward tap `t` read `i`, if any. With stride 2 only even
// distances map back; circular wraps modulo the input size, which is even for stride 2.
bool conv_tap_transposed(int i, int t, int in_size, int out_size, out int o) {
  int d = i + PAD - t;
  if (CIRCULAR != 0) {
    d += d < 0 ? in_size : 0;
    d -= d >= in_size ? in_size : 0;
  } else if (d < 0) {
    o = 0;
    return false;
  }
  bool ok = true;
  if (STRIDE == 2) {
    ok = (d & 1) == 0;
    d >>= 1;
  }
  o = d;
  return ok && d < out_size;
}

#endif
