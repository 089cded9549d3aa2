#include "tessera/ops/random.hpp"

#include <string>

#include "tessera/context.hpp"
#include "tessera/error.hpp"

namespace tessera::ops {
namespace {

void record_random_fill(const char* op, const char* shader, CommandSequence& seq, const Tensor& keys,
                        const Tensor& out, const RandomFill& fill) {
  require_dtype(op, keys, DType::U32);
  require_dense(op, keys);
  require_dtype(op, out, DType::F32);
  require_dense(op, out);
  const bool one_key = keys.rank() == 1 && keys.dim(0) == 3;
  const bool key_rows = keys.rank() == 2 && keys.dim(1) == 3;
  if (!one_key && !key_rows)
    throw ShapeError(std::string(op) + ": key tensor " + keys.describe() +
                     " must have shape [3] or [K,3] (rows of seed_lo, seed_hi, stream)");
  const int64_t key_count = one_key ? 1 : keys.dim(0);
  if (int64_t(fill.key_slot) >= key_count)
    throw ShapeError(std::string(op) + ": key_slot " + std::to_string(fill.key_slot) + " is outside key tensor " +
                     keys.describe() + " (" + std::to_string(key_count) + " keys)");
  // The shader counts positions in u32 from the start of the first Philox block.
  if (out.numel() > (int64_t(1) << 31))
    throw ShapeError(std::string(op) + ": output " + out.describe() + " has more than 2^31 elements");
  if (out.numel() == 0) return;

  constexpr uint32_t kLocal = 64;
  const Kernel& k = seq.context().kernels().get({shader, {BindAs::Storage, BindAs::Storage}, {kLocal, 1, 1}});
  struct {
    uint32_t n, offset_lo, offset_hi, key_slot;
  } push{uint32_t(out.numel()), uint32_t(fill.index_offset), uint32_t(fill.index_offset >> 32), fill.key_slot};
  const uint64_t blocks = ((fill.index_offset & 3) + uint64_t(out.numel()) + 3) / 4;
  seq.dispatch(k, {in(keys), tessera::out(out)}, push, groups_1d(blocks, kLocal));
}

}  // namespace

void random_normal(CommandSequence& seq, const Tensor& keys, const Tensor& out, const RandomFill& fill) {
  record_random_fill("random_normal", "random_normal", seq, keys, out, fill);
}

void random_uniform(CommandSequence& seq, const Tensor& keys, const Tensor& out, const RandomFill& fill) {
  record_random_fill("random_uniform", "random_uniform", seq, keys, out, fill);
}

}  // namespace tessera::ops
