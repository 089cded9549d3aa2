#include "model/unet_blocks.hpp"

#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/activation.hpp"
#include "tessera/ops/attention.hpp"
#include "tessera/ops/concat.hpp"
#include "tessera/ops/elementwise.hpp"
#include "tessera/ops/linear.hpp"
#include "tessera/ops/upsample.hpp"

namespace tessera::unet {

Act Builder::make(const Shape& shape, const std::string& name) {
  Act a;
  a.v = scratch(shape, name);
  if (training) a.g = scratch(shape, "d" + name);
  return a;
}

Act Builder::make_sharing_grad(const Shape& shape, const std::string& name, const Tensor& grad) {
  return {scratch(shape, name), grad};
}

Act Builder::slice(const Act& a, int64_t first, int64_t count) {
  Act s;
  s.v = a.v.channel_slice(first, count);
  if (a.g.valid()) s.g = a.g.channel_slice(first, count);
  return s;
}

Tensor Builder::scratch(const Shape& shape, const std::string& name, DType dtype) {
  return arena_ ? arena_->allocate(shape, dtype, name) : Tensor::unbound(shape, dtype, name);
}

Act Builder::param(const std::string& name, const Shape& shape, Init init) {
  if (declaring_) {
    declaring_->declare(name, shape, init);
    return {Tensor::unbound(shape, DType::F32, name), {}};
  }
  const ParameterSet::Entry& e = params_->entry(name);
  if (e.shape != shape)
    throw ShapeError("U-Net: parameter '" + name + "' is " + shape_string(e.shape) + ", the network needs " +
                     shape_string(shape));
  return {e.value, training ? params_->grad(name) : Tensor()};
}

bool GradTracker::accumulate(const Tensor& grad) {
  VkDeviceSize begin = grad.offset(), end = grad.offset() + grad.span_bytes();
  bool covered = false;
  for (auto [b, e] : written_) {
    if (b <= begin && end <= e) covered = true;
  }
  if (!covered) {
    for (auto [b, e] : written_)
      if (begin < e && b < end)
        throw Error("U-Net backward: gradient " + grad.describe() + " is only partly written (internal ordering bug)");
  }
  written_.emplace_back(begin, end);
  return covered;
}

// ---------------------------------------------------------------------------------------------
ConvLayer::ConvLayer(Builder& b, const std::string& prefix, const Act& x_, const Act& y_, const ops::Conv2dParams& p,
                     std::optional<Init> init)
    : x(x_), y(y_), params(p) {
  const int64_t cin = x.v.dim(1), k = p.kernel;
  Init rule = init.value_or(Init::fan_in(cin * k * k));
  w = b.param(prefix + ".weight", {y.v.dim(1), cin, k, k}, rule);
  bias = b.param(prefix + ".bias", {y.v.dim(1)}, rule);
  if (b.training) {
    int64_t n = ops::conv2d_backward_weight_scratch_elements(*b.ctx, x.v.shape(), w.v.shape(), p);
    if (n > 0) scratch = b.scratch({n}, prefix + ".wgrad_scratch");
  }
}

void ConvLayer::forward(CommandSequence& seq) const { ops::conv2d_forward(seq, x.v, w.v, &bias.v, y.v, params); }

void ConvLayer::backward(CommandSequence& seq, GradTracker& grads, bool need_dx) const {
  ops::conv2d_backward_weight(seq, x.v, y.g, w.g, params, scratch.valid() ? &scratch : nullptr);
  ops::conv2d_backward_bias(seq, y.g, bias.g);
  if (need_dx) ops::conv2d_backward_data(seq, y.g, w.v, x.g, params, grads.accumulate(x.g));
}

double ConvLayer::flops() const { return ops::conv2d_flops(x.v.shape(), w.v.dim(0), params); }

LinearLayer::LinearLayer(Builder& b, const std::string& prefix, int64_t in, int64_t out)
    : w(b.param(prefix + ".weight", {out, in}, Init::fan_in(in))),
      bias(b.param(prefix + ".bias", {out}, Init::fan_in(in))) {}

// ---------------------------------------------------------------------------------------------
NormLayer::NormLayer(Builder& b, const std::string& prefix, const Act& x_, const Act& y_, int groups, bool silu)
    : x(x_), y(y_) {
  params.groups = groups;
  params.eps = 1e-5f;
  params.fused_silu = silu;
  gamma = b.param(prefix + ".weight", {x.v.dim(1)}, Init::One);
  beta = b.param(prefix + ".bias", {x.v.dim(1)}, Init::Zero);
  stats = b.scratch(ops::groupnorm_stats_shape(x.v.shape(), params), prefix + ".stats");
  if (b.training) {
    scratch = b.scratch(ops::groupnorm_backward_scratch_shape(x.v.shape()), prefix + ".bwd_scratch");
  }
}

void NormLayer::forward(CommandSequence& seq) const {
  ops::groupnorm_forward(seq, x.v, gamma.v, beta.v, y.v, stats, params);
}

void NormLayer::backward(CommandSequence& seq, GradTracker& grads) const {
  ops::groupnorm_backward(seq, x.v, gamma.v, beta.v, stats, y.g, x.g, gamma.g, beta.g, scratch, params,
                          grads.accumulate(x.g));
}

namespace {

Shape with_channels(const Shape& s, int64_t c) { return {s[0], c, s[2], s[3]}; }

// ---------------------------------------------------------------------------------------------
class ResBlock final : public Block {
 public:
  ResBlock(Builder& b, const std::string& p, const Act& x, const Act& out, const Act& temb_act, int groups,
           ops::Padding padding)
      : x_(x),
        out_(out),
        temb_act_(temb_act),
        a1_(b.make(x.v.shape(), p + ".a1")),
        h1_(b.make(out.v.shape(), p + ".h1")),
        a2_(b.make(out.v.shape(), p + ".a2")),
        // h2 and the skip branch feed `out = skip + h2`: both gradients are out's gradient.
        h2_(b.make_sharing_grad(out.v.shape(), p + ".h2", out.g)),
        tp_(b.make({x.v.dim(0), out.v.dim(1)}, p + ".temb_proj_out")),
        norm1_(b, p + ".norm1", x_, a1_, groups, true),
        conv1_(b, p + ".conv1", a1_, h1_, {3, 1, padding}),
        temb_proj_(b, p + ".temb_proj", temb_act.v.dim(1), out.v.dim(1)),
        norm2_(b, p + ".norm2", h1_, a2_, groups, true),
        // The residual branch starts as the identity (ADM's zero_module).
        conv2_(b, p + ".conv2", a2_, h2_, {3, 1, padding}, Init::Zero) {
    if (x.v.dim(1) != out.v.dim(1)) {
      skip_out_ = b.make_sharing_grad(out.v.shape(), p + ".skip_out", out.g);
      skip_ = std::make_unique<ConvLayer>(b, p + ".skip", x_, skip_out_, ops::Conv2dParams{1, 1, ops::Padding::Zeros});
    }
  }

  void forward(CommandSequence& seq) const override {
    norm1_.forward(seq);
    conv1_.forward(seq);
    ops::linear_forward(seq, temb_act_.v, temb_proj_.w.v, &temb_proj_.bias.v, tp_.v);
    ops::channel_bias_add(seq, h1_.v, tp_.v);
    norm2_.forward(seq);
    conv2_.forward(seq);
    if (skip_) {
      skip_->forward(seq);
      ops::add(seq, skip_out_.v, h2_.v, out_.v);
    } else {
      ops::add(seq, x_.v, h2_.v, out_.v);
    }
  }

  void backward(CommandSequence& seq, GradTracker& grads) const override {
    conv2_.backward(seq, grads, true);  // d a2
    norm2_.backward(seq, grads);        // d h1
    ops::channel_sum(seq, h1_.g, tp_.g, false);
    ops::linear_backward(seq, temb_act_.v, temb_proj_.w.v, tp_.g, &temb_act_.g, temb_proj_.w.g, &temb_proj_.bias.g,
                         grads.accumulate(temb_act_.g));
    conv1_.backward(seq, grads, true);  // d a1
    norm1_.backward(seq, grads);        // d x (first or added)
    if (skip_) {
      skip_->backward(seq, grads, true);
    } else {
      grads.accumulate(x_.g);
      ops::add(seq, x_.g, out_.g, x_.g);
    }
  }

  double flops() const override {
    double f = conv1_.flops() + conv2_.flops() + (skip_ ? skip_->flops() : 0.0);
    return f + 2.0 * temb_act_.v.dim(0) * temb_proj_.w.v.dim(0) * temb_proj_.w.v.dim(1);
  }

 private:
  Act x_, out_, temb_act_, a1_, h1_, a2_, h2_, tp_, skip_out_;
  // Declaration order is the model file's parameter order (docs/model-format.md).
  NormLayer norm1_;
  ConvLayer conv1_;
  LinearLayer temb_proj_;
  NormLayer norm2_;
  ConvLayer conv2_;
  std::unique_ptr<ConvLayer> skip_;
};

// ---------------------------------------------------------------------------------------------
class AttentionBlock final : public Block {
 public:
  AttentionBlock(Builder& b, const std::string& p, const Act& x, const Act& out, int heads, int groups)
      : x_(x),
        out_(out),
        heads_(heads),
        hn_(b.make(x.v.shape(), p + ".normed")),
        qkv_(b.make(with_channels(x.v.shape(), 3 * x.v.dim(1)), p + ".qkv_out")),
        o_(b.make(x.v.shape(), p + ".attn_out")),
        proj_out_(b.make_sharing_grad(x.v.shape(), p + ".proj_out", out.g)),
        norm_(b, p + ".norm", x_, hn_, groups, false),
        qkv_conv_(b, p + ".qkv", hn_, qkv_, {1, 1, ops::Padding::Zeros}),
        proj_conv_(b, p + ".proj", o_, proj_out_, {1, 1, ops::Padding::Zeros}, Init::Zero) {
    // Training keeps the T x T probabilities for the backward pass; inference runs the fused
    // kernel, which never stores them (N * heads * T^2 floats: 256 MiB at 64x64 tokens, 4 heads).
    // Portable mode runs the unfused path for inference too: the fused kernels' online softmax
    // rescales per key tile, an order docs/portable.md cannot fix across variants.
    if (b.training || (b.ctx && b.ctx->portable())) {
      auto shapes = ops::attention_scratch_shapes(qkv_.v.shape(), heads);
      probs_ = b.scratch(shapes.probs, p + ".probs");
      if (b.training) grad_scores_ = b.scratch(shapes.grad_scores, p + ".grad_scores");
    }
  }

  void forward(CommandSequence& seq) const override {
    norm_.forward(seq);
    qkv_conv_.forward(seq);
    if (probs_.valid())
      ops::attention_forward(seq, qkv_.v, probs_, o_.v, heads_);
    else
      ops::attention_forward_fused(seq, qkv_.v, o_.v, heads_);
    proj_conv_.forward(seq);
    ops::add(seq, x_.v, proj_out_.v, out_.v);
  }

  void backward(CommandSequence& seq, GradTracker& grads) const override {
    proj_conv_.backward(seq, grads, true);  // d o
    ops::attention_backward(seq, qkv_.v, probs_, o_.g, grad_scores_, qkv_.g, heads_, grads.accumulate(qkv_.g));
    qkv_conv_.backward(seq, grads, true);  // d hn
    norm_.backward(seq, grads);            // d x
    grads.accumulate(x_.g);
    ops::add(seq, x_.g, out_.g, x_.g);  // residual
  }

  double flops() const override {
    double tokens = double(x_.v.dim(2)) * x_.v.dim(3);
    return qkv_conv_.flops() + proj_conv_.flops() + 4.0 * x_.v.dim(0) * x_.v.dim(1) * tokens * tokens;
  }

 private:
  Act x_, out_;
  int heads_;
  Act hn_, qkv_, o_, proj_out_;
  NormLayer norm_;
  ConvLayer qkv_conv_, proj_conv_;
  Tensor probs_, grad_scores_;
};

// ---------------------------------------------------------------------------------------------
class UpsampleBlock final : public Block {
 public:
  UpsampleBlock(Builder& b, const std::string& p, const Act& x, const Act& out, ops::Padding padding)
      : x_(x),
        up_(b.make({x.v.dim(0), x.v.dim(1), 2 * x.v.dim(2), 2 * x.v.dim(3)}, p + ".upsampled")),
        conv_(b, p + ".conv", up_, out, {3, 1, padding}) {}

  void forward(CommandSequence& seq) const override {
    ops::upsample_nearest2x_forward(seq, x_.v, up_.v);
    conv_.forward(seq);
  }
  void backward(CommandSequence& seq, GradTracker& grads) const override {
    conv_.backward(seq, grads, true);
    ops::upsample_nearest2x_backward(seq, up_.g, x_.g, grads.accumulate(x_.g));
  }
  double flops() const override { return conv_.flops(); }

 private:
  Act x_, up_;
  ConvLayer conv_;
};

// ---------------------------------------------------------------------------------------------
class ConvBlock final : public Block {
 public:
  ConvBlock(Builder& b, const std::string& p, const Act& x, const Act& out, const ops::Conv2dParams& params,
            bool input_needs_grad)
      : conv_(b, p, x, out, params), input_needs_grad_(input_needs_grad) {}
  void forward(CommandSequence& seq) const override { conv_.forward(seq); }
  void backward(CommandSequence& seq, GradTracker& grads) const override {
    conv_.backward(seq, grads, input_needs_grad_);
  }
  double flops() const override { return conv_.flops(); }

 private:
  ConvLayer conv_;
  bool input_needs_grad_;
};

// ---------------------------------------------------------------------------------------------
class OutputBlock final : public Block {
 public:
  OutputBlock(Builder& b, const Act& x, const Act& out, int groups, ops::Padding padding)
      : a_(b.make(x.v.shape(), "out.act")),
        norm_(b, "out_norm", x, a_, groups, true),
        conv_(b, "conv_out", a_, out, {3, 1, padding}, Init::Zero) {}
  void forward(CommandSequence& seq) const override {
    norm_.forward(seq);
    conv_.forward(seq);
  }
  void backward(CommandSequence& seq, GradTracker& grads) const override {
    conv_.backward(seq, grads, true);
    norm_.backward(seq, grads);
  }
  double flops() const override { return conv_.flops(); }

 private:
  Act a_;
  NormLayer norm_;
  ConvLayer conv_;
};

// ---------------------------------------------------------------------------------------------
class ConcatBlock final : public Block {
 public:
  ConcatBlock(const Act& h, const Act& skip, const Act& cat) : h_(h), skip_(skip), cat_(cat) {}
  void forward(CommandSequence& seq) const override { ops::concat_channels(seq, h_.v, skip_.v, cat_.v); }
  void backward(CommandSequence& seq, GradTracker& grads) const override {
    // h and skip each have one more consumer at most, earlier in the forward pass, so both
    // gradients are written here first; split_channels has one flag for both.
    bool h_written = grads.accumulate(h_.g), skip_written = grads.accumulate(skip_.g);
    if (h_written != skip_written)
      throw Error("U-Net backward: concat parts " + h_.g.describe() + " and " + skip_.g.describe() +
                  " are in different states (internal ordering bug)");
    ops::split_channels(seq, cat_.g, h_.g, skip_.g, h_written);
  }

 private:
  Act h_, skip_, cat_;
};

}  // namespace

std::unique_ptr<Block> make_concat_block(const Act& h, const Act& skip, const Act& cat) {
  return std::make_unique<ConcatBlock>(h, skip, cat);
}
std::unique_ptr<Block> make_res_block(Builder& b, const std::string& prefix, const Act& x, const Act& out,
                                      const Act& temb_act, int groups, ops::Padding padding) {
  return std::make_unique<ResBlock>(b, prefix, x, out, temb_act, groups, padding);
}
std::unique_ptr<Block> make_attention_block(Builder& b, const std::string& prefix, const Act& x, const Act& out,
                                            int heads, int groups) {
  return std::make_unique<AttentionBlock>(b, prefix, x, out, heads, groups);
}
std::unique_ptr<Block> make_upsample_block(Builder& b, const std::string& prefix, const Act& x, const Act& out,
                                           ops::Padding padding) {
  return std::make_unique<UpsampleBlock>(b, prefix, x, out, padding);
}
std::unique_ptr<Block> make_conv_block(Builder& b, const std::string& prefix, const Act& x, const Act& out,
                                       const ops::Conv2dParams& p, bool input_needs_grad) {
  return std::make_unique<ConvBlock>(b, prefix, x, out, p, input_needs_grad);
}
std::unique_ptr<Block> make_output_block(Builder& b, const Act& x, const Act& out, int groups, ops::Padding padding) {
  return std::make_unique<OutputBlock>(b, x, out, groups, padding);
}

}  // namespace tessera::unet
