// Channel concatenation of NCHW f32 tensors, as the U-Net joins [h, skip] before a decoder block.
//
// Preferred path, no copy: allocate the concat output once, take its two channel views with
// concat_channel_views(), and let the producers of h and skip write straight into them (every op
// in tessera::ops accepts batch-strided views). The gradient of the concat is then free too: the
// consumer's input gradient, allocated with the concat's shape, is split the same way and the two
// halves are the gradients of h and skip (accumulate=true where they have other consumers).
//
// Fallback, one copy: concat_channels() when a producer cannot write into a view (e.g. it needs
// a dense output), with split_channels() as its backward.
#pragma once
#include <cstdint>

#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera {
class Context;
}

namespace tessera::ops {

struct ConcatViews {
  Tensor first;   // channels [0, first_channels)
  Tensor second;  // channels [first_channels, C)
};

// Views of `concat` ([N, C, ...]) for its first `first_channels` channels and the rest.
// Throws ShapeError if the split leaves either view unusable as a kernel binding, i.e. its byte
// offset is not a multiple of view_offset_alignment() (first_channels * H * W must be a multiple
// of 4 elements on every device we know); use concat_channels() then.
ConcatViews concat_channel_views(const Tensor& concat, int64_t first_channels);

// Byte alignment a tensor view's offset needs to be bound by the ops of this library (storage and
// texel descriptors): the device's minimum offset alignments, and at least 16.
uint64_t view_offset_alignment(const Context& ctx);
// Throws ShapeError naming `op` and the tensor unless its offset has view_offset_alignment().
void require_bindable(const char* op, const Context& ctx, const Tensor& t);

// out[:, 0:Ca] = a, out[:, Ca:Ca+Cb] = b. a [N,Ca,H,W], b [N,Cb,H,W], out [N,Ca+Cb,H,W]; any of
// them may be batch-strided views. One dispatch.
void concat_channels(CommandSequence& seq, const Tensor& a, const Tensor& b, const Tensor& out);

// Backward of concat_channels: da = dout[:, 0:Ca], db = dout[:, Ca:], overwritten, or added to
// when `accumulate`. One dispatch. da and db must not overlap dout.
void split_channels(CommandSequence& seq, const Tensor& dout, const Tensor& da, const Tensor& db, bool accumulate);

}  // namespace tessera::ops
