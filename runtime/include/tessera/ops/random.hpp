// Random fills of dense f32 tensors, bit-identical to tessera::rng on the CPU (see rng.hpp for
// the keying and the formats).
//
// The key lives on the device: `keys` is a dense u32 tensor of shape [3] or [K, 3] whose row
// `key_slot` holds (seed_lo, seed_hi, stream) (rng::key_words). A recorded CommandSequence is
// replayed with new noise by rewriting that tensor from the host (upload_u32) between runs;
// the recording never changes. Several keys (e.g. diffusion noise and dropout) can share
// one key tensor, one row each.
#pragma once
#include <cstdint>

#include "tessera/command_sequence.hpp"
#include "tessera/tensor.hpp"

namespace tessera::ops {

struct RandomFill {
  uint64_t index_offset = 0;  // out element i gets element index index_offset + i
  uint32_t key_slot = 0;      // row of the key tensor
};

// out[i] = rng::normal(seed, stream, index_offset + i), a standard normal.
void random_normal(CommandSequence& seq, const Tensor& keys, const Tensor& out, const RandomFill& fill = {});
// out[i] = rng::uniform(seed, stream, index_offset + i), in (0, 1).
void random_uniform(CommandSequence& seq, const Tensor& keys, const Tensor& out, const RandomFill& fill = {});

}  // namespace tessera::ops
