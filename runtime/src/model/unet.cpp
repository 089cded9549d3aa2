#include "tessera/unet.hpp"

#include <algorithm>
#include <vector>

#include "model/unet_blocks.hpp"
#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/activation.hpp"
#include "tessera/ops/concat.hpp"
#include "tessera/ops/elementwise.hpp"
#include "tessera/ops/embedding.hpp"
#include "tessera/ops/linear.hpp"
#include "tessera/ops/timestep_embedding.hpp"

namespace tessera {

using unet::Act;
using unet::Block;
using unet::Builder;

namespace {

std::string res_name(const char* path, int level, int i) {
  return std::string(path) + "." + std::to_string(level) + ".res." + std::to_string(i);
}
std::string attn_name(const char* path, int level, int i) {
  return std::string(path) + "." + std::to_string(level) + ".attn." + std::to_string(i);
}

void declare_conv(ParameterSet& p, const std::string& name, int cout, int cin, int k) {
  p.declare(name + ".weight", {cout, cin, k, k});
  p.declare(name + ".bias", {cout});
}
void declare_norm(ParameterSet& p, const std::string& name, int c) {
  p.declare(name + ".weight", {c});
  p.declare(name + ".bias", {c});
}
void declare_res(ParameterSet& p, const std::string& name, int cin, int cout, int temb) {
  declare_norm(p, name + ".norm1", cin);
  declare_conv(p, name + ".conv1", cout, cin, 3);
  p.declare(name + ".temb_proj.weight", {cout, temb});
  p.declare(name + ".temb_proj.bias", {cout});
  declare_norm(p, name + ".norm2", cout);
  declare_conv(p, name + ".conv2", cout, cout, 3);
  if (cin != cout) declare_conv(p, name + ".skip", cout, cin, 1);
}
void declare_attn(ParameterSet& p, const std::string& name, int c) {
  declare_norm(p, name + ".norm", c);
  declare_conv(p, name + ".qkv", 3 * c, c, 1);
  declare_conv(p, name + ".proj", c, c, 1);
}

// Channel widths of the skip connections in push order, and the attention decision per level
// (by the level's resolution at train_resolution, so other image sizes keep the same network).
struct Topology {
  std::vector<int> skip_channels;
  std::vector<bool> attention;
};

Topology topology(const UNetConfig& c) {
  Topology t;
  t.skip_channels.push_back(c.base_channels);
  int res = c.train_resolution;
  for (int level = 0; level < c.levels(); ++level) {
    int ch = c.base_channels * c.channel_mult[level];
    t.attention.push_back(c.has_attention_at(res));
    for (int i = 0; i < c.num_res_blocks; ++i) t.skip_channels.push_back(ch);
    if (level + 1 < c.levels()) {
      t.skip_channels.push_back(ch);
      res /= 2;
    }
  }
  return t;
}

}  // namespace

void UNet::declare_parameters(const UNetConfig& c, ParameterSet& p) {
  c.validate();
  int base = c.base_channels, temb = c.time_embed_dim();
  p.declare("time_embed.0.weight", {temb, base});
  p.declare("time_embed.0.bias", {temb});
  p.declare("time_embed.2.weight", {temb, temb});
  p.declare("time_embed.2.bias", {temb});
  if (c.num_classes > 0) p.declare("class_embed.weight", {c.num_classes + 1, temb});
  declare_conv(p, "conv_in", base, c.in_channels, 3);
  Topology topo = topology(c);
  int ch = base;
  for (int level = 0; level < c.levels(); ++level) {
    int out = base * c.channel_mult[level];
    for (int i = 0; i < c.num_res_blocks; ++i) {
      declare_res(p, res_name("down", level, i), ch, out, temb);
      ch = out;
      if (topo.attention[level]) declare_attn(p, attn_name("down", level, i), ch);
    }
    if (level + 1 < c.levels()) declare_conv(p, "down." + std::to_string(level) + ".downsample.conv", ch, ch, 3);
  }
  declare_res(p, "mid.res0", ch, ch, temb);
  declare_attn(p, "mid.attn", ch);
  declare_res(p, "mid.res1", ch, ch, temb);
  std::vector<int> skips = topo.skip_channels;
  for (int level = c.levels() - 1; level >= 0; --level) {
    int out = base * c.channel_mult[level];
    for (int i = 0; i <= c.num_res_blocks; ++i) {
      declare_res(p, res_name("up", level, i), ch + skips.back(), out, temb);
      skips.pop_back();
      ch = out;
      if (topo.attention[level]) declare_attn(p, attn_name("up", level, i), ch);
    }
    if (level > 0) declare_conv(p, "up." + std::to_string(level) + ".upsample.conv", ch, ch, 3);
  }
  declare_norm(p, "out_norm", ch);
  declare_conv(p, "conv_out", c.out_channels, ch, 3);
}

struct UNet::Impl {
  Context& ctx;
  UNetConfig config;
  const ParameterSet& params;
  int batch, height, width;
  bool training;

  std::unique_ptr<Arena> arena, constants;
  std::unique_ptr<ops::TimestepEmbedding> sinusoid;
  Act x, out;
  Tensor timesteps, labels;
  // Time/class embedding path.
  Act temb_sin, e1, e1_act, e2, temb, temb_act, class_emb;
  std::vector<std::unique_ptr<Block>> blocks;  // forward order

  Impl(Context& c, const UNetConfig& cfg, const ParameterSet& p, int n, int h, int w, bool train)
      : ctx(c), config(cfg), params(p), batch(n), height(h), width(w), training(train) {}

  void build(Arena& a);
  // Lays the plan out in a measuring arena (nothing allocated): the activation arena's cost.
  PlanCost measure_activations();
  double forward_flops() const;
  void record_time_embedding_forward(CommandSequence& seq) const;
  void record_time_embedding_backward(CommandSequence& seq, unet::GradTracker& grads) const;
};

void UNet::Impl::build(Arena& a) {
  blocks.clear();
  Builder b(ctx, a, params, training);
  // A block's own tensors (normalised activations, attention scores, ...) are needed by its
  // forward only, unless the backward pass reads them. For inference every block's tensors
  // are released once it is built, so all blocks share one region: sampling memory is the
  // persistent activations (skips, block outputs) plus the largest block, not the sum of
  // all blocks. Build order is execution order, so a reused range is never live twice; the
  // command sequence's hazard tracking puts barriers between the reuses.
  auto add_block = [&](auto&& make) {
    Arena::Mark before = a.mark();
    blocks.push_back(make());
    if (!training) a.release(before);
  };
  const UNetConfig& c = config;
  ops::Padding pad = c.padding == PaddingMode::Circular ? ops::Padding::Circular : ops::Padding::Zeros;
  int base = c.base_channels, temb_dim = c.time_embed_dim(), groups = c.norm_groups;
  int64_t n = batch;

  x = b.make({n, c.in_channels, height, width}, "input");
  timesteps = a.allocate({n}, DType::F32, "timesteps");
  if (c.num_classes > 0) labels = a.allocate({n}, DType::U32, "labels");
  temb_sin = b.make({n, base}, "temb.sinusoid");
  e1 = b.make({n, temb_dim}, "temb.linear0");
  e1_act = b.make({n, temb_dim}, "temb.silu");
  e2 = b.make({n, temb_dim}, "temb.linear2");
  if (c.num_classes > 0) {
    class_emb = b.make({n, temb_dim}, "class_embed.out");
    temb = b.make({n, temb_dim}, "temb");
  }
  temb_act = b.make({n, temb_dim}, "temb.act");

  // Concat buffers of the decoder blocks, in decoder order; skip producer k (push order)
  // writes into the skip part of buffer (count - 1 - k).
  Topology topo = topology(c);
  struct Cat {
    Act buffer;
    // Where the producers write: the buffer's two channel views, no copy. The skip view starts
    // h_channels * H * W floats in; where that is not a multiple of the device's binding
    // alignment (odd widths at small levels, e.g. 15 channels at 3x5), h and skip get dense
    // tensors instead and a concat block copies them in.
    Act h, skip;
    bool copied = false;
  };
  std::vector<Cat> cats;
  {
    const uint64_t alignment = ops::view_offset_alignment(ctx);
    std::vector<int> skips = topo.skip_channels;
    int ch = base * c.channel_mult.back();
    int h = height >> (c.levels() - 1), w = width >> (c.levels() - 1);
    for (int level = c.levels() - 1; level >= 0; --level) {
      for (int i = 0; i <= c.num_res_blocks; ++i) {
        int s = skips.back();
        skips.pop_back();
        const std::string name = res_name("up", level, i) + ".concat";
        Cat cat;
        cat.buffer = b.make({n, ch + s, h, w}, name);
        cat.h = Builder::slice(cat.buffer, 0, ch);
        cat.skip = Builder::slice(cat.buffer, ch, s);
        if (cat.skip.v.offset() % alignment != 0) {
          cat.h = b.make({n, ch, h, w}, name + ".h");
          cat.skip = b.make({n, s, h, w}, name + ".skip");
          cat.copied = true;
        }
        cats.push_back(std::move(cat));
        ch = base * c.channel_mult[level];
      }
      h *= 2;
      w *= 2;
    }
  }
  size_t produced = 0;
  auto skip_destination = [&]() { return cats[cats.size() - 1 - produced++].skip; };
  auto h_destination = [&](size_t cat_index) { return cats[cat_index].h; };

  // One ResBlock of a level, followed by attention where the level has it; `dest` gets the result.
  auto add_level_block = [&](const char* path, int level, int i, const Act& in, const Act& dest, int cout, int h,
                             int w) {
    std::string rn = res_name(path, level, i);
    if (!topo.attention[level]) {
      add_block([&] { return unet::make_res_block(b, rn, in, dest, temb_act, groups, pad); });
      return;
    }
    Act mid = b.make({n, cout, h, w}, rn + ".out");
    add_block([&] { return unet::make_res_block(b, rn, in, mid, temb_act, groups, pad); });
    add_block([&] { return unet::make_attention_block(b, attn_name(path, level, i), mid, dest, c.num_heads, groups); });
  };

  // --- encoder ---
  int h = height, w = width;
  Act cur = skip_destination();
  add_block([&] { return unet::make_conv_block(b, "conv_in", x, cur, {3, 1, pad}, /*input_needs_grad=*/true); });
  int ch = base;
  for (int level = 0; level < c.levels(); ++level) {
    int cout = base * c.channel_mult[level];
    for (int i = 0; i < c.num_res_blocks; ++i) {
      Act dest = skip_destination();
      add_level_block("down", level, i, cur, dest, cout, h, w);
      cur = dest;
      ch = cout;
    }
    if (level + 1 < c.levels()) {
      h /= 2;
      w /= 2;
      Act dest = skip_destination();
      add_block([&] { return unet::make_conv_block(b, "down." + std::to_string(level) + ".downsample.conv", cur, dest,
                                             {3, 2, pad}, true); });
      cur = dest;
    }
  }
  if (produced != cats.size()) throw Error("U-Net plan: skip bookkeeping mismatch (internal)");

  // --- middle ---
  Act m0 = b.make({n, ch, h, w}, "mid.res0.out");
  Act m1 = b.make({n, ch, h, w}, "mid.attn.out");
  add_block([&] { return unet::make_res_block(b, "mid.res0", cur, m0, temb_act, groups, pad); });
  add_block([&] { return unet::make_attention_block(b, "mid.attn", m0, m1, c.num_heads, groups); });
  add_block([&] { return unet::make_res_block(b, "mid.res1", m1, h_destination(0), temb_act, groups, pad); });

  // --- decoder ---
  size_t cat_index = 0;
  Act final_h;
  for (int level = c.levels() - 1; level >= 0; --level) {
    int cout = base * c.channel_mult[level];
    for (int i = 0; i <= c.num_res_blocks; ++i) {
      const Cat& cat = cats[cat_index];
      if (cat.copied) add_block([&] { return unet::make_concat_block(cat.h, cat.skip, cat.buffer); });
      const Act& in = cat.buffer;
      bool last_in_level = i == c.num_res_blocks;
      bool last_overall = last_in_level && level == 0;
      // Where this block's result goes: the next concat's h part, or a dense tensor that the
      // upsample (or the output head) reads.
      Act dest = (last_in_level) ? b.make({n, cout, h, w}, res_name("up", level, i) + ".result")
                                 : h_destination(cat_index + 1);
      add_level_block("up", level, i, in, dest, cout, h, w);
      ++cat_index;
      if (last_overall) final_h = dest;
      if (last_in_level && level > 0) {
        h *= 2;
        w *= 2;
        add_block([&] { return unet::make_upsample_block(b, "up." + std::to_string(level) + ".upsample", dest,
                                                   h_destination(cat_index), pad); });
      }
    }
  }
  out = b.make({n, c.out_channels, height, width}, "output");
  add_block([&] { return unet::make_output_block(b, final_h, out, groups, pad); });
}

void UNet::Impl::record_time_embedding_forward(CommandSequence& seq) const {
  sinusoid->record(seq, timesteps, temb_sin.v);
  ops::linear_forward(seq, temb_sin.v, params.value("time_embed.0.weight"), &params.value("time_embed.0.bias"), e1.v);
  ops::silu_forward(seq, e1.v, e1_act.v);
  ops::linear_forward(seq, e1_act.v, params.value("time_embed.2.weight"), &params.value("time_embed.2.bias"), e2.v);
  if (config.num_classes > 0) {
    ops::embedding_forward(seq, params.value("class_embed.weight"), labels, class_emb.v);
    ops::add(seq, e2.v, class_emb.v, temb.v);
    ops::silu_forward(seq, temb.v, temb_act.v);
  } else {
    ops::silu_forward(seq, e2.v, temb_act.v);
  }
}

void UNet::Impl::record_time_embedding_backward(CommandSequence& seq, unet::GradTracker& grads) const {
  // temb_act.g holds the sum over all ResBlocks; everything before is single-consumer.
  const Act& pre = config.num_classes > 0 ? temb : e2;
  ops::silu_backward(seq, pre.v, temb_act.g, pre.g, false);
  if (config.num_classes > 0) {
    ops::embedding_backward(seq, labels, temb.g, params.grad("class_embed.weight"));
    // temb = e2 + class_emb: e2's gradient equals temb's.
    seq.copy(temb.g, e2.g);
  }
  ops::linear_backward(seq, e1_act.v, params.value("time_embed.2.weight"), e2.g, &e1_act.g,
                       params.grad("time_embed.2.weight"), &params.grad("time_embed.2.bias"), false);
  ops::silu_backward(seq, e1.v, e1_act.g, e1.g, false);
  ops::linear_backward(seq, temb_sin.v, params.value("time_embed.0.weight"), e1.g, nullptr,
                       params.grad("time_embed.0.weight"), &params.grad("time_embed.0.bias"), false);
  (void)grads;
}

namespace {
constexpr VkDeviceSize kConstantBytes = 1 << 16;  // the timestep-embedding table

void check_plan(const UNetConfig& config, const ParameterSet& params, int batch, int height, int width, bool training) {
  config.validate();
  int m = config.size_multiple();
  if (batch <= 0) throw ShapeError("U-Net: batch must be positive, got " + std::to_string(batch));
  if (height <= 0 || width <= 0 || height % m || width % m)
    throw ShapeError("U-Net: image size " + std::to_string(width) + "x" + std::to_string(height) +
                     " must be a positive multiple of " + std::to_string(m) + " (2^(levels-1)) in both directions");
  if (training && config.dropout > 0.0f)
    throw UnsupportedError("U-Net: dropout > 0 is not implemented in Tessera's trainer yet; use dropout 0");
  if (!params.allocated()) throw Error("U-Net: parameters must be allocated before building the network");
  if (training && !params.flat_grads().valid()) throw Error("U-Net: training needs parameters with gradients");
}
}  // namespace

PlanCost UNet::Impl::measure_activations() {
  auto measure = Arena::measuring(ctx, "unet-plan");
  build(*measure);
  return {measure->peak(), measure->peak(), measure->largest_tensor(), forward_flops()};
}

double UNet::Impl::forward_flops() const {
  double f = 0;
  for (const auto& b : blocks) f += b->flops();
  double n = batch, e = config.time_embed_dim(), base = config.base_channels;
  return f + 2 * n * (e * base + e * e);
}

PlanCost UNet::cost(Context& ctx, const UNetConfig& config, const ParameterSet& params, int batch, int height,
                    int width, bool training) {
  check_plan(config, params, batch, height, width, training);
  Impl impl(ctx, config, params, batch, height, width, training);
  PlanCost cost = impl.measure_activations();
  cost.total_bytes += kConstantBytes;
  cost.largest_allocation = std::max(cost.largest_allocation, kConstantBytes);
  return cost;
}

UNet::UNet(Context& ctx, const UNetConfig& config, const ParameterSet& params, int batch, int height, int width,
           bool training)
    : impl_(std::make_unique<Impl>(ctx, config, params, batch, height, width, training)) {
  check_plan(config, params, batch, height, width, training);
  // Lay everything out once in a measuring arena to learn the size, then for real.
  impl_->arena =
      std::make_unique<Arena>(ctx, impl_->measure_activations().total_bytes, training ? "unet-train" : "unet");
  impl_->build(*impl_->arena);
  impl_->constants = std::make_unique<Arena>(ctx, kConstantBytes, "unet-constants");
  impl_->sinusoid = std::make_unique<ops::TimestepEmbedding>(*impl_->constants, config.base_channels);
}

UNet::~UNet() = default;

const Tensor& UNet::input() const { return impl_->x.v; }
const Tensor& UNet::timesteps() const { return impl_->timesteps; }
const Tensor& UNet::labels() const { return impl_->labels; }
const Tensor& UNet::output() const { return impl_->out.v; }
const Tensor& UNet::output_grad() const {
  if (!impl_->training) throw Error("U-Net: output_grad() of a network built for inference");
  return impl_->out.g;
}
const Tensor& UNet::input_grad() const {
  if (!impl_->training) throw Error("U-Net: input_grad() of a network built for inference");
  return impl_->x.g;
}
const UNetConfig& UNet::config() const { return impl_->config; }
VkDeviceSize UNet::activation_bytes() const { return impl_->arena->capacity(); }

double UNet::forward_flops() const { return impl_->forward_flops(); }

void UNet::record_forward(CommandSequence& seq) const {
  impl_->record_time_embedding_forward(seq);
  for (const auto& b : impl_->blocks) b->forward(seq);
}

void UNet::record_backward(CommandSequence& seq) const {
  if (!impl_->training) throw Error("U-Net: record_backward on a network built for inference");
  unet::GradTracker grads;
  grads.accumulate(impl_->out.g);  // written by the caller (loss gradient)
  for (auto it = impl_->blocks.rbegin(); it != impl_->blocks.rend(); ++it) (*it)->backward(seq, grads);
  impl_->record_time_embedding_backward(seq, grads);
}

}  // namespace tessera
