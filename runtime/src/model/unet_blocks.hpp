// Building blocks of the U-Net: each holds its parameter views and the activation tensors
// its backward pass needs, and records its own forward and backward dispatches.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tessera/arena.hpp"
#include "tessera/command_sequence.hpp"
#include "tessera/ops/conv2d.hpp"
#include "tessera/ops/groupnorm.hpp"
#include "tessera/parameters.hpp"

namespace tessera::unet {

// A tensor and (when training) its gradient, laid out identically: an activation, or a
// parameter with its slot in the flat gradient buffer.
struct Act {
  Tensor v, g;
};

// What a block is built against. The same build runs more than once, measure-then-build as
// Arena::measured does: a declaring pass lays out nothing and records every parameter the
// blocks ask for (name, shape, init rule) in a ParameterSet, so a block's constructor is the
// one place its parameters are written down; the measuring and building passes allocate
// activations, gradients and scratch from an arena and hand out the allocated parameters.
class Builder {
 public:
  explicit Builder(ParameterSet& declaring) : ctx(nullptr), training(false), declaring_(&declaring) {}
  Builder(Context& ctx, Arena& arena, const ParameterSet& params, bool training)
      : ctx(&ctx), training(training), arena_(&arena), params_(&params) {}
  Act make(const Shape& shape, const std::string& name);
  // An activation whose gradient is another's (residual branches: d(a + b)/da = upstream).
  Act make_sharing_grad(const Shape& shape, const std::string& name, const Tensor& grad);
  static Act slice(const Act& a, int64_t first, int64_t count);
  Tensor scratch(const Shape& shape, const std::string& name, DType dtype = DType::F32);
  // A parameter (and its gradient when training): declared on the declaring pass, looked up
  // (its shape checked against the declaration) on the others.
  Act param(const std::string& name, const Shape& shape, Init init);
  // Inference releases a block's own tensors once it is built (see UNet::Impl::build).
  Arena::Mark mark() const { return arena_ ? arena_->mark() : 0; }
  void release(Arena::Mark m) {
    if (arena_) arena_->release(m);
  }

  Context* const ctx;  // null on the declaring pass, which needs no device
  const bool training;

 private:
  Arena* arena_ = nullptr;
  ParameterSet* declaring_ = nullptr;
  const ParameterSet* params_ = nullptr;
};

// Remembers which gradient byte ranges the backward pass has written, so the first writer
// overwrites and later contributions accumulate (an activation with two consumers).
class GradTracker {
 public:
  bool accumulate(const Tensor& grad);

 private:
  std::vector<std::pair<VkDeviceSize, VkDeviceSize>> written_;
};

class Block {
 public:
  virtual ~Block() = default;
  virtual void forward(CommandSequence& seq) const = 0;
  virtual void backward(CommandSequence& seq, GradTracker& grads) const = 0;
  virtual double flops() const { return 0; }
};

// Weight [y channels, x channels, k, k] and bias, PyTorch's fan-in init unless `init` says otherwise.
struct ConvLayer {
  ConvLayer(Builder& b, const std::string& prefix, const Act& x, const Act& y, const ops::Conv2dParams& p,
            std::optional<Init> init = std::nullopt);
  void forward(CommandSequence& seq) const;
  // dx is skipped when the input needs no gradient (the network input).
  void backward(CommandSequence& seq, GradTracker& grads, bool need_dx) const;
  double flops() const;

  Act w, bias;
  Tensor scratch;
  Act x, y;
  ops::Conv2dParams params;
};

// Linear weight [out, in] and bias, fan-in init; its callers record the linear ops themselves.
struct LinearLayer {
  LinearLayer() = default;
  LinearLayer(Builder& b, const std::string& prefix, int64_t in, int64_t out);
  Act w, bias;
};

struct NormLayer {  // GroupNorm, optionally fused with SiLU; gamma starts at one, beta at zero
  NormLayer(Builder& b, const std::string& prefix, const Act& x, const Act& y, int groups, bool silu);
  void forward(CommandSequence& seq) const;
  void backward(CommandSequence& seq, GradTracker& grads) const;

  Act gamma, beta;
  Tensor stats, scratch;
  Act x, y;
  ops::GroupNormParams params;
};

// ResBlock: GN→SiLU→conv3×3, + Linear(SiLU(temb)) per channel, GN→SiLU→conv3×3, skip.
std::unique_ptr<Block> make_res_block(Builder& b, const std::string& prefix, const Act& x, const Act& out,
                                      const Act& temb_act, int groups, ops::Padding padding);
// Self-attention with residual: out = x + proj(attention(qkv(GN(x)))).
std::unique_ptr<Block> make_attention_block(Builder& b, const std::string& prefix, const Act& x, const Act& out,
                                            int heads, int groups);
// Nearest 2× upsample followed by a 3×3 conv.
std::unique_ptr<Block> make_upsample_block(Builder& b, const std::string& prefix, const Act& x, const Act& out,
                                           ops::Padding padding);
// A single convolution as a block (conv_in, downsample).
std::unique_ptr<Block> make_conv_block(Builder& b, const std::string& prefix, const Act& x, const Act& out,
                                       const ops::Conv2dParams& p, bool input_needs_grad);
// Copies h and skip into the channel halves of `cat` (and splits its gradient back), for the
// image sizes where the producers cannot write straight into views of `cat`.
std::unique_ptr<Block> make_concat_block(const Act& h, const Act& skip, const Act& cat);
// Output head: GN→SiLU→conv_out.
std::unique_ptr<Block> make_output_block(Builder& b, const Act& x, const Act& out, int groups, ops::Padding padding);

}  // namespace tessera::unet
