#include "tessera/unet.hpp"

#include <algorithm>
#include <cmath>
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

struct UNet::Impl {
  UNetConfig config;
  int batch, height, width;
  bool training;

  std::unique_ptr<Arena> arena, constants;
  std::unique_ptr<ops::TimestepEmbedding> sinusoid;
  Act x, out;
  Tensor timesteps, labels;
  // Time/class embedding path.
  unet::LinearLayer time_linear0, time_linear2;
  Act class_table;
  Act temb_sin, e1, e1_act, e2, temb, temb_act, class_emb;
  std::vector<std::unique_ptr<Block>> blocks;  // forward order

  Impl(const UNetConfig& cfg, int n, int h, int w, bool train)
      : config(cfg), batch(n), height(h), width(w), training(train) {}

  // The one description of the network: declares its parameters (through the blocks), lays
  // out its tensors and creates its blocks in execution order.
  void build(Builder& b);
  // Lays the plan out in a measuring arena (nothing allocated): the activation arena's cost.
  PlanCost measure_activations(Context& ctx, const ParameterSet& params);
  double forward_flops() const;
  void record_time_embedding_forward(CommandSequence& seq) const;
  void record_time_embedding_backward(CommandSequence& seq, unet::GradTracker& grads) const;
};

void UNet::Impl::build(Builder& b) {
  blocks.clear();
  // A block's own tensors (normalised activations, attention scores, ...) are needed by its
  // forward only, unless the backward pass reads them. For inference every block's tensors
  // are released once it is built, so all blocks share one region: sampling memory is the
  // persistent activations (skips, block outputs) plus the largest block, not the sum of
  // all blocks. Build order is execution order, so a reused range is never live twice; the
  // command sequence's hazard tracking puts barriers between the reuses.
  auto add_block = [&](auto&& make) {
    Arena::Mark before = b.mark();
    blocks.push_back(make());
    if (!training) b.release(before);
  };
  const UNetConfig& c = config;
  ops::Padding pad = c.padding == PaddingMode::Circular ? ops::Padding::Circular : ops::Padding::Zeros;
  int base = c.base_channels, temb_dim = c.time_embed_dim(), groups = c.norm_groups;
  int64_t n = batch;

  time_linear0 = unet::LinearLayer(b, "time_embed.0", base, temb_dim);
  time_linear2 = unet::LinearLayer(b, "time_embed.2", temb_dim, temb_dim);
  if (c.num_classes > 0)  // unit variance
    class_table = b.param("class_embed.weight", {c.num_classes + 1, temb_dim}, Init::uniform(std::sqrt(3.0f)));
  x = b.make({n, c.channels(), height, width}, "input");
  timesteps = b.scratch({n}, "timesteps");
  if (c.num_classes > 0) labels = b.scratch({n}, "labels", DType::U32);
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
    // (The declaring pass lays nothing out: any alignment serves it.)
    const uint64_t alignment = b.ctx ? ops::view_offset_alignment(*b.ctx) : 1;
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
  out = b.make({n, c.channels(), height, width}, "output");
  add_block([&] { return unet::make_output_block(b, final_h, out, groups, pad); });
}

void UNet::Impl::record_time_embedding_forward(CommandSequence& seq) const {
  sinusoid->record(seq, timesteps, temb_sin.v);
  ops::linear_forward(seq, temb_sin.v, time_linear0.w.v, &time_linear0.bias.v, e1.v);
  ops::silu_forward(seq, e1.v, e1_act.v);
  ops::linear_forward(seq, e1_act.v, time_linear2.w.v, &time_linear2.bias.v, e2.v);
  if (config.num_classes > 0) {
    ops::embedding_forward(seq, class_table.v, labels, class_emb.v);
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
    ops::embedding_backward(seq, labels, temb.g, class_table.g);
    // temb = e2 + class_emb: e2's gradient equals temb's.
    seq.copy(temb.g, e2.g);
  }
  ops::linear_backward(seq, e1_act.v, time_linear2.w.v, e2.g, &e1_act.g, time_linear2.w.g, &time_linear2.bias.g, false);
  ops::silu_backward(seq, e1.v, e1_act.g, e1.g, false);
  ops::linear_backward(seq, temb_sin.v, time_linear0.w.v, e1.g, nullptr, time_linear0.w.g, &time_linear0.bias.g, false);
  (void)grads;
}

void UNet::declare_parameters(const UNetConfig& c, ParameterSet& p) {
  c.validate();
  // The declaring pass of the build every network runs; the parameters do not depend on the
  // image size, so the smallest one serves.
  Impl plan(c, 1, c.size_multiple(), c.size_multiple(), false);
  Builder b(p);
  plan.build(b);
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

PlanCost UNet::Impl::measure_activations(Context& ctx, const ParameterSet& params) {
  auto measure = Arena::measuring(ctx, "unet-plan");
  Builder b(ctx, *measure, params, training);
  build(b);
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
  Impl impl(config, batch, height, width, training);
  PlanCost cost = impl.measure_activations(ctx, params);
  cost.total_bytes += kConstantBytes;
  cost.largest_allocation = std::max(cost.largest_allocation, kConstantBytes);
  return cost;
}

UNet::UNet(Context& ctx, const UNetConfig& config, const ParameterSet& params, int batch, int height, int width,
           bool training)
    : impl_(std::make_unique<Impl>(config, batch, height, width, training)) {
  check_plan(config, params, batch, height, width, training);
  impl_->arena = Arena::measured(ctx, training ? "unet-train" : "unet", [&](Arena& a) {
    Builder b(ctx, a, params, training);
    impl_->build(b);
  });
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
VkDeviceSize UNet::device_bytes() const { return impl_->arena->capacity(); }

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
