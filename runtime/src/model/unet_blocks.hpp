// Building blocks of the U-Net: each holds its parameter views and the activation tensors
// its backward pass needs, and records its own forward and backward dispatches.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tessera/arena.hpp"
#include "tessera/command_sequence.hpp"
#include "tessera/ops/conv2d.hpp"
#include "tessera/ops/groupnorm.hpp"
#include "tessera/parameters.hpp"

namespace tessera::unet {

// An activation and (when training) its gradient, laid out identically.
struct Act {
  Tensor v, g;
};

// Allocates activations, their gradients and scratch tensors from one arena.
class Builder {
 public:
  Builder(Context& ctx, Arena& arena, const ParameterSet& params, bool training)
      : ctx(ctx), arena_(arena), params_(params), training(training) {}
  Act make(const Shape& shape, const std::string& name);
  // An activation whose gradient is another's (residual branches: d(a + b)/da = upstream).
  Act make_sharing_grad(const Shape& shape, const std::string& name, const Tensor& grad);
  static Act slice(const Act& a, int64_t first, int64_t count);
  Tensor scratch(const Shape& shape, const std::string& name);
  const Tensor& param(const std::string& name) const { return params_.value(name); }
  Tensor param_grad(const std::string& name) const { return training ? params_.grad(name) : Tensor(); }

  Context& ctx;

 private:
  Arena& arena_;
  const ParameterSet& params_;

 public:
  const bool training;
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

struct ConvLayer {
  ConvLayer(Builder& b, const std::string& prefix, const Act& x, const Act& y, const ops::Conv2dParams& p);
  void forward(CommandSequence& seq) const;
  // dx is skipped when the input needs no gradient (the network input).
  void backward(CommandSequence& seq, GradTracker& grads, bool need_dx) const;
  double flops() const;

  Tensor w, bias, dw, dbias, scratch;
  Act x, y;
  ops::Conv2dParams params;
};

struct NormLayer {  // GroupNorm, optionally fused with SiLU
  NormLayer(Builder& b, const std::string& prefix, const Act& x, const Act& y, int groups, bool silu);
  void forward(CommandSequence& seq) const;
  void backward(CommandSequence& seq, GradTracker& grads) const;

  Tensor gamma, beta, dgamma, dbeta, stats, scratch;
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
