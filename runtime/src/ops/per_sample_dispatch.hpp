// Shared by the ops that index one sample at a time (SiLU, upsample, concat, GroupNorm) and
// may work on batch-strided views: the 32-bit index limit of their shaders and their
// dispatch shape (samples along z).
#pragma once
#include <cstdint>
#include <limits>
#include <string>

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

}  // namespace tessera::ops
