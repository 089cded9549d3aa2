#include "tessera/ops/timestep_embedding.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "tessera/arena.hpp"
#include "tessera/context.hpp"
#include "tessera/error.hpp"

namespace tessera::ops {

TimestepEmbedding::TimestepEmbedding(Arena& arena, int64_t dim, double max_period) : dim_(dim) {
  if (dim < 1 || dim >= (int64_t(1) << 24))
    throw ShapeError("timestep_embedding: dim " + std::to_string(dim) + " must be in [1, 2^24)");
  if (!(max_period > 0)) throw Error("timestep_embedding: max_period must be positive");
  int64_t half = dim / 2;
  // hi = f32(freq), lo = f32(freq - hi): together ~48 bits of the double frequency.
  std::vector<float> table(static_cast<size_t>(2 * std::max<int64_t>(half, 1)), 0.0f);
  for (int64_t i = 0; i < half; ++i) {
    double freq = std::exp(-std::log(max_period) * double(i) / double(half));
    float hi = static_cast<float>(freq);
    table[2 * i] = hi;
    table[2 * i + 1] = static_cast<float>(freq - double(hi));
  }
  frequencies_ = arena.allocate({int64_t(table.size())}, DType::F32, "timestep_embedding.frequencies");
  upload_f32(frequencies_, table);
}

void TimestepEmbedding::record(CommandSequence& seq, const Tensor& timesteps, const Tensor& out) const {
  const char* op = "timestep_embedding";
  if (timesteps.dtype() != DType::F32 && timesteps.dtype() != DType::U32)
    throw ShapeError(std::string(op) + ": timesteps " + timesteps.describe() + " should be f32 or u32");
  if (timesteps.rank() != 1) throw ShapeError(std::string(op) + ": timesteps " + timesteps.describe() + " should be [N]");
  require_dense(op, timesteps);
  require_dtype(op, out, DType::F32);
  require_dense(op, out);
  require_shape(op, out, {timesteps.dim(0), dim_});
  if (out.numel() >= (int64_t(1) << 32)) throw UnsupportedError(std::string(op) + ": " + out.describe() + " too large");
  constexpr uint32_t kLocal = 256;
  uint32_t is_u32 = timesteps.dtype() == DType::U32 ? 1 : 0;
  const Kernel& k = seq.context().kernels().get(
      {seq.context().mode_kernel("timestep_embedding"), {BindAs::Storage, BindAs::Storage, BindAs::Storage}, {kLocal, 1, 1}, {is_u32}});
  struct {
    uint32_t n, dim, half_dim;
  } push{uint32_t(out.numel()), uint32_t(dim_), uint32_t(dim_ / 2)};
  seq.dispatch(k, {in(timesteps), in(frequencies_), tessera::out(out)}, push, groups_1d(out.numel(), kLocal));
}

}  // namespace tessera::ops
