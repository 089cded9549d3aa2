// Shared by the ops that index one sample at a time (SiLU, upsample, concat, GroupNorm) and
// may work on batch-strided views: the 32-bit index limit of their shaders, their dispatch
// shape (samples along z) and whether two such views share elements.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "tessera/command_sequence.hpp"
#include "tessera/error.hpp"
#include "tessera/tensor.hpp"

namespace tessera::ops {

// Per-sample index arithmetic in these shaders is 32-bit.
inline void require_32bit_indexing(const char* op, const Tensor& t) {
  if (static_cast<uint64_t>(t.span_bytes() / 4) > std::numeric_limits<uint32_t>::max())
    throw UnsupportedError(std::string(op) + ": " + t.describe() + " has more than 2^32 elements");
}

// `per_sample` invocations per sample in x/y, one sample per z slice.
inline Groups per_sample_groups(int64_t per_sample, int64_t batch, uint32_t local_size) {
  Groups g = groups_1d(static_cast<uint64_t>(per_sample), local_size);
  g.z = static_cast<uint32_t>(batch);
  return g;
}

// Whether a and b share any byte. A view's sample n is one contiguous run of numel / N elements
// starting batch_stride elements after sample n - 1, so two channel views of one tensor (whose
// byte spans interleave) are told apart exactly, where comparing spans would refuse them.
inline bool share_elements(const Tensor& a, const Tensor& b) {
  if (a.buffer() != b.buffer() || a.numel() == 0 || b.numel() == 0) return false;
  auto run = [](const Tensor& t, int64_t n) {
    uint64_t begin = t.offset() + static_cast<uint64_t>(n * t.batch_stride()) * dtype_size(t.dtype());
    return std::pair{begin, begin + static_cast<uint64_t>(t.numel() / t.dim(0)) * dtype_size(t.dtype())};
  };
  // Both lists of runs are sorted and disjoint within themselves: one merge walk.
  for (int64_t i = 0, j = 0; i < a.dim(0) && j < b.dim(0);) {
    auto [a0, a1] = run(a, i);
    auto [b0, b1] = run(b, j);
    if (a0 < b1 && b0 < a1) return true;
    if (a1 <= b1)
      ++i;  // a's run ends first: no later run of b can reach back to it
    else
      ++j;
  }
  return false;
}

}  // namespace tessera::ops
