// attention: forward (probabilities kept for backward, or fused for inference) and backward.
// Shaders: attention_softmax, attention_softmax_bwd and the matmul kernels (unfused path);
// attention_fused_texel_fetch (TexelFetch variant: texel fetches + subgroup broadcasts) and
// attention_fused_shared_tiles (SharedTiles variant, also the fallback without subgroups).
#include "tessera/ops/attention.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <string>

#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/matmul.hpp"

namespace tessera::ops {

namespace {

struct AttentionDims {
  int64_t samples, channels, tokens, heads, head_dim;
};

AttentionDims attention_dims(const char* op, const Shape& qkv, const std::string& what, int64_t heads) {
  if (qkv.size() != 4)
    throw ShapeError(std::string(op) + ": qkv " + what + " should be [N, 3C, H, W]");
  if (heads <= 0 || qkv[1] % (3 * heads) != 0)
    throw ShapeError(std::string(op) + ": qkv " + what + " has " + std::to_string(qkv[1]) +
                     " channels, not divisible by 3 * heads = 3 * " + std::to_string(heads));
  int64_t channels = qkv[1] / 3;
  return {qkv[0], channels, qkv[2] * qkv[3], heads, channels / heads};
}

AttentionDims check_qkv(const char* op, const Tensor& qkv, int64_t heads) {
  if (!qkv.valid()) throw ShapeError(std::string(op) + ": qkv is not an allocated tensor");
  require_dtype(op, qkv, DType::F32);
  require_dense(op, qkv);
  return attention_dims(op, qkv.shape(), qkv.describe(), heads);
}

void require_f32_shape(const char* op, const Tensor& t, const Shape& shape) {
  require_shape(op, t, shape);
  require_dtype(op, t, DType::F32);
  require_dense(op, t);
}

// The (sample, head) pairs as one matmul batch: group = sample, member = head.
struct HeadLayout {
  const AttentionDims& d;
  int64_t batch() const { return d.samples * d.heads; }
  // q, k or v of every head inside qkv (or dqkv): part 0, 1 or 2.
  MatrixBatch qkv_part(const Tensor& t, int part) const {
    return {t, part * d.channels * d.tokens, d.head_dim * d.tokens, 3 * d.channels * d.tokens};
  }
  // Per-head d x T matrices of an [N, C, H, W] tensor (o, d_o).
  MatrixBatch channels(const Tensor& t) const { return {t, 0, d.head_dim * d.tokens, d.channels * d.tokens}; }
  // Per-head T x T matrices of an [N, heads, T, T] tensor.
  MatrixBatch scores(const Tensor& t) const {
    return {t, 0, d.tokens * d.tokens, d.heads * d.tokens * d.tokens};
  }
  MatmulParams params(int64_t m, int64_t n, int64_t k, bool ta, bool tb, float alpha, float beta) const {
    MatmulParams p;
    p.m = m;
    p.n = n;
    p.k = k;
    p.batch = batch();
    p.group_size = d.heads;
    p.transpose_a = ta;
    p.transpose_b = tb;
    p.alpha = alpha;
    p.beta = beta;
    return p;
  }
};

void dispatch_rows(CommandSequence& seq, const std::string& shader, std::initializer_list<Arg> args,
                   std::vector<BindAs> bindings, const AttentionDims& d) {
  constexpr uint32_t kLocal = 64;
  const Kernel& k = seq.context().kernels().get({shader, std::move(bindings), {kLocal, 1, 1}});
  uint64_t rows = static_cast<uint64_t>(d.samples * d.heads * d.tokens);
  struct {
    uint32_t rows, len;
  } push{static_cast<uint32_t>(rows), static_cast<uint32_t>(d.tokens)};
  seq.dispatch(k, args, push, groups_1d(rows, kLocal));
}

}  // namespace

AttentionScratchShapes attention_scratch_shapes(const Shape& qkv, int64_t heads) {
  AttentionDims d = attention_dims("attention_scratch_shapes", qkv, shape_string(qkv), heads);
  Shape scores{d.samples, d.heads, d.tokens, d.tokens};
  return {scores, scores};
}

void attention_forward(CommandSequence& seq, const Tensor& qkv, const Tensor& probs, const Tensor& o, int64_t heads) {
  const char* op = "attention_forward";
  AttentionDims d = check_qkv(op, qkv, heads);
  const Shape& s = qkv.shape();
  require_f32_shape(op, probs, {d.samples, d.heads, d.tokens, d.tokens});
  require_f32_shape(op, o, {d.samples, d.channels, s[2], s[3]});
  // Portable mode: 1/sqrt(d) in double, rounded once (docs/portable.md).
  const bool portable = seq.context().portable();
  const float scale = portable ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(d.head_dim)))
                               : 1.0f / std::sqrt(static_cast<float>(d.head_dim));
  const std::string softmax = seq.context().mode_kernel("attention_softmax");
  const uint64_t score_bytes = static_cast<uint64_t>(d.tokens * d.tokens) * 4;
  const uint64_t max_range = seq.context().info().max_storage_buffer_range;
  if (static_cast<uint64_t>(probs.numel()) * 4 <= max_range) {
    HeadLayout L{d};
    // scores[t, s] = scale * sum_c q[c, t] k[c, s]
    matmul(seq, L.qkv_part(qkv, 0), L.qkv_part(qkv, 1), L.scores(probs),
           L.params(d.tokens, d.tokens, d.head_dim, true, false, scale, 0.0f));
    dispatch_rows(seq, softmax, {inout(probs)}, {BindAs::Storage}, d);
    // o[c, t] = sum_s v[c, s] P[t, s]
    matmul(seq, L.qkv_part(qkv, 2), L.scores(probs), L.channels(o),
           L.params(d.head_dim, d.tokens, d.tokens, false, true, 1.0f, 0.0f));
    return;
  }
  // Large images (a model generating far above its training size): the score matrices of all
  // heads exceed what one binding may span, so they are processed a few heads at a time, each
  // chunk bound as its own view of `probs`.
  const int64_t per_chunk = static_cast<int64_t>(max_range / score_bytes);
  if (per_chunk < 1)
    throw ShapeError(std::string(op) + ": one head's " + std::to_string(d.tokens) + "x" + std::to_string(d.tokens) +
                     " attention scores exceed the device's storage-buffer range");
  const int64_t T = d.tokens, D = d.head_dim, C = d.channels;
  for (int64_t n = 0; n < d.samples; ++n)
    for (int64_t h0 = 0; h0 < d.heads; h0 += per_chunk) {
      int64_t count = std::min(per_chunk, d.heads - h0);
      Tensor chunk = probs.view((n * d.heads + h0) * T * T, {count, T, T}, probs.name() + ".chunk");
      MatmulParams p;
      p.batch = count;
      auto part = [&](const Tensor& t, int64_t first_channel) {
        return MatrixBatch{t, (n * t.dim(1) + first_channel + h0 * D) * T, D * T, 0};
      };
      p.m = T, p.n = T, p.k = D, p.transpose_a = true, p.alpha = scale;
      matmul(seq, part(qkv, 0), part(qkv, C), MatrixBatch{chunk, 0, T * T, 0}, p);
      AttentionDims cd{count, C, T, 1, D};
      dispatch_rows(seq, softmax, {inout(chunk)}, {BindAs::Storage}, cd);
      p = MatmulParams{};
      p.batch = count;
      p.m = D, p.n = T, p.k = T, p.transpose_b = true;
      matmul(seq, part(qkv, 2 * C), MatrixBatch{chunk, 0, T * T, 0}, part(o, 0), p);
    }
}

void attention_forward_fused(CommandSequence& seq, const Tensor& qkv, const Tensor& o, int64_t heads) {
  const char* op = "attention_forward_fused";
  AttentionDims d = check_qkv(op, qkv, heads);
  const Shape& s = qkv.shape();
  require_f32_shape(op, o, {d.samples, d.channels, s[2], s[3]});
  if (static_cast<uint64_t>(qkv.numel()) >= INT32_MAX)
    throw UnsupportedError(std::string(op) + ": " + qkv.describe() + " has more elements than 32-bit indexing covers");
  if (d.samples * d.heads > 65535)
    throw UnsupportedError(std::string(op) + ": " + std::to_string(d.samples * d.heads) +
                           " (sample, head) pairs exceed one dispatch's 65535 workgroups");
  if (d.tokens > int64_t(65535) * 64)
    throw UnsupportedError(std::string(op) + ": " + std::to_string(d.tokens) +
                           " tokens need more than one dispatch's 65535 workgroups of 64 query rows");
  Context& ctx = seq.context();
  const DeviceInfo& info = ctx.info();
  const uint32_t head_dim = static_cast<uint32_t>(d.head_dim);
  struct {
    int32_t tokens, heads, channels;
    float qk_scale;
  } push{static_cast<int32_t>(d.tokens), static_cast<int32_t>(d.heads), static_cast<int32_t>(d.channels),
         // Scores in log2 units: the kernels use exp2.
         static_cast<float>(1.4426950408889634 / std::sqrt(static_cast<double>(d.head_dim)))};
  constexpr uint32_t kLanes = 64;
  const bool texel_fetch = ctx.variant() == KernelVariant::TexelFetch && info.subgroup_basic &&
                           info.subgroup_size >= 8 &&
                           static_cast<uint64_t>(qkv.numel()) <= info.max_texel_buffer_elements;
  if (texel_fetch) {
    // Query rows per lane: each broadcast K/V texel feeds `rows` multiply-adds, and on lavapipe
    // the broadcasts, not the arithmetic, bound the rate. Measured at T = 4096 (GFLOP/s,
    // rows 1/2/4/8/16): d = 16: 2.7/5.1/11.2/22.4/17.0; d = 64: -/4.5/8.7/11.0/-. Fewer rows
    // for short sequences, so a workgroup (64 lanes) does not mostly compute clamped duplicates.
    uint32_t rows = head_dim <= 64 ? 8 : 4;
    while (rows > 1 && int64_t(kLanes) * rows / 2 >= d.tokens) rows /= 2;
    const bool vec4 = d.tokens % 4 == 0 && qkv.offset() % 16 == 0;
    const Kernel& k =
        ctx.kernels().get({"attention_fused_texel_fetch",
                           {BindAs::TexelF32, vec4 ? BindAs::TexelVec4 : BindAs::TexelF32, BindAs::Storage},
                           {kLanes, 1, 1},
                           {head_dim, rows, vec4 ? 1u : 0u}});
    Groups g{div_up(d.tokens, kLanes * rows), static_cast<uint32_t>(d.samples * d.heads), 1};
    seq.dispatch(k, {texel(qkv), vec4 ? texel4(qkv) : texel(qkv), out(o)}, push, g);
    return;
  }
  // K and V tiles of `tile` keys: 2 * tile * d floats of shared memory, within the 16 KiB every
  // Vulkan device offers; a multiple of the kernel's 16-key block.
  const uint64_t floats_per_tile = std::min<uint64_t>(info.max_shared_memory, 16384) / 8;  // K or V
  const uint32_t tile = static_cast<uint32_t>(std::min<uint64_t>(64, floats_per_tile / head_dim / 16 * 16));
  if (tile < 16)
    throw UnsupportedError(std::string(op) + ": head dim " + std::to_string(d.head_dim) +
                           " needs more shared memory than the device offers");
  const Kernel& k = ctx.kernels().get(
      {"attention_fused_shared_tiles", {BindAs::Storage, BindAs::Storage}, {kLanes, 1, 1}, {head_dim, tile}});
  Groups g{div_up(d.tokens, kLanes), static_cast<uint32_t>(d.samples * d.heads), 1};
  seq.dispatch(k, {in(qkv), out(o)}, push, g);
}

void attention_backward(CommandSequence& seq, const Tensor& qkv, const Tensor& probs, const Tensor& d_o,
                        const Tensor& grad_scores, const Tensor& dqkv, int64_t heads, bool accumulate) {
  const char* op = "attention_backward";
  AttentionDims d = check_qkv(op, qkv, heads);
  const Shape& s = qkv.shape();
  Shape scores{d.samples, d.heads, d.tokens, d.tokens};
  require_f32_shape(op, probs, scores);
  require_f32_shape(op, grad_scores, scores);
  require_f32_shape(op, d_o, {d.samples, d.channels, s[2], s[3]});
  require_f32_shape(op, dqkv, s);
  HeadLayout L{d};
  const float scale = 1.0f / std::sqrt(static_cast<float>(d.head_dim));
  const float beta = accumulate ? 1.0f : 0.0f;
  const int64_t T = d.tokens, D = d.head_dim;
  // dv[c, s] = sum_t do[c, t] P[t, s]
  matmul(seq, L.channels(d_o), L.scores(probs), L.qkv_part(dqkv, 2), L.params(D, T, T, false, false, 1.0f, beta));
  // dP[t, s] = sum_c do[c, t] v[c, s]
  matmul(seq, L.channels(d_o), L.qkv_part(qkv, 2), L.scores(grad_scores), L.params(T, T, D, true, false, 1.0f, 0.0f));
  // dscores = P * (dP - rowsum(dP * P)), in place
  dispatch_rows(seq, "attention_softmax_bwd", {in(probs), inout(grad_scores)}, {BindAs::Storage, BindAs::Storage}, d);
  // dq[c, t] = scale * sum_s k[c, s] dscores[t, s]
  matmul(seq, L.qkv_part(qkv, 1), L.scores(grad_scores), L.qkv_part(dqkv, 0),
         L.params(D, T, T, false, true, scale, beta));
  // dk[c, s] = scale * sum_t q[c, t] dscores[t, s]
  matmul(seq, L.qkv_part(qkv, 0), L.scores(grad_scores), L.qkv_part(dqkv, 1),
         L.params(D, T, T, false, false, scale, beta));
}

}  // namespace tessera::ops
