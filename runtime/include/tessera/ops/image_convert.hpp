// Conversion between the model's float images and packed RGBA8 pixels (display, PNG I/O).
// No backward: these sit outside the differentiated graph.
#pragma once
#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera::ops {

// image f32 [N, C, H, W], C = 3 or 4, values in [-1, 1] -> rgba u32 [N, H, W], R in the low byte.
// byte = round-half-up((x + 1) * 127.5) clamped to [0, 255] (NaN -> 0); alpha = 255 when C = 3.
void image_to_rgba8(CommandSequence& seq, const Tensor& image, const Tensor& rgba);

// rgba u32 [N, H, W] -> image f32 [N, C, H, W], C = 3 or 4: x = byte / 127.5 - 1 (alpha dropped
// when C = 3). rgba8 -> float -> rgba8 is the identity.
void image_from_rgba8(CommandSequence& seq, const Tensor& rgba, const Tensor& image);

}  // namespace tessera::ops
