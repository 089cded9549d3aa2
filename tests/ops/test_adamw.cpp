#include <cmath>
#include <cstring>

#include "ops/reference/adamw.hpp"
#include "ops/reference/ema.hpp"
#include "ops/reference/grad_norm.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/adamw.hpp"
#include "tessera/ops/ema.hpp"
#include "tessera/ops/grad_norm.hpp"
#include "tessera/ops/mse_loss.hpp"

namespace tessera::testing {
namespace {

class AdamWTest : public VulkanTest {
 protected:
  Tensor zeros(const Shape& shape, const std::string& name) {
    Tensor t = arena().allocate(shape, DType::F32, name);
    upload_f32(t, std::vector<float>(size_t(t.numel()), 0.0f));
    return t;
  }
  Tensor hyper_block() { return poisoned_tensor({ops::kOptimizerBlockSize}, "optimizer_block"); }
  static void write_block(const Tensor& block, const ops::OptimizerHyperParams& h) {
    auto values = ops::pack_optimizer_block(h);
    upload_f32(block, values);
  }
};

// The learning-rate schedule the replays follow (warm-up then decay), and the weight decay.
double scheduled_lr(int64_t step) { return step <= 2 ? 1e-2 * double(step) / 2.0 : 1e-2 * std::pow(0.7, double(step - 2)); }

// One recorded command buffer (grad norm + AdamW with the clip coefficient + EMA) replayed for
// several steps; between runs the host writes only the hyper-parameter block.
TEST_F(AdamWTest, RecordedStepReplaysLikeReferenceAdamW) {
  const std::vector<Shape> shapes{{1}, {7}, {13, 5}, {64, 33, 3, 3}, {4099}};
  std::vector<Tensor> grads;
  std::vector<ops::AdamWState> states;
  std::vector<Tensor> params, emas;
  for (size_t i = 0; i < shapes.size(); ++i) {
    Tensor p = random_tensor(shapes[i], 10 + i, -1, 1, "param" + std::to_string(i));
    grads.push_back(random_tensor(shapes[i], 20 + i, -0.2f, 0.2f, "grad" + std::to_string(i)));
    states.push_back({p, grads.back(), zeros(shapes[i], "exp_avg"), zeros(shapes[i], "exp_avg_sq")});
    params.push_back(p);
    emas.push_back(random_tensor(shapes[i], 30 + i, -1, 1, "ema" + std::to_string(i)));
  }
  std::vector<std::vector<double>> p_ref, m_ref, v_ref, g_ref, ema_ref;
  for (size_t i = 0; i < shapes.size(); ++i) {
    p_ref.push_back(to_double(download_f32(params[i])));
    g_ref.push_back(to_double(download_f32(grads[i])));
    ema_ref.push_back(to_double(download_f32(emas[i])));
    m_ref.emplace_back(p_ref.back().size(), 0.0);
    v_ref.emplace_back(p_ref.back().size(), 0.0);
  }
  const double max_norm = reference::global_norm(g_ref) / 2;  // clipping active every step
  Tensor block = hyper_block();
  Tensor clip = poisoned_tensor({ops::kGradNormResultSize}, "grad_norm");
  Tensor scratch = poisoned_tensor({ops::grad_norm_scratch_size(grads)}, "scratch");
  CommandSequence seq(ctx());
  ops::grad_norm(seq, grads, clip, scratch, float(max_norm));
  ops::adamw_step(seq, states, block, &clip);
  ops::ema_update(seq, params, emas, block);

  reference::AdamWConfig config;
  config.weight_decay = 0.05;
  const double coefficient = reference::clip_coefficient(reference::global_norm(g_ref), max_norm);
  for (int64_t step = 1; step <= 5; ++step) {
    ops::OptimizerHyperParams h;
    h.lr = config.lr = scheduled_lr(step);
    h.weight_decay = config.weight_decay;
    h.step = step;
    h.ema_decay = 0.9 + 0.01 * double(step);  // a decay warm-up: also only in the block
    write_block(block, h);
    seq.run();
    for (size_t i = 0; i < shapes.size(); ++i) {
      reference::adamw_step(p_ref[i], m_ref[i], v_ref[i], g_ref[i], config, step, coefficient);
      reference::ema_update(ema_ref[i], p_ref[i], h.ema_decay);
    }
  }
  for (size_t i = 0; i < shapes.size(); ++i) {
    const std::string what = " " + shape_string(shapes[i]) + " after 5 steps";
    expect_close(download_f32(params[i]), p_ref[i], 1e-5, "param" + what);
    expect_close(download_f32(states[i].exp_avg), m_ref[i], 1e-5, "exp_avg" + what);
    expect_close(download_f32(states[i].exp_avg_sq), v_ref[i], 1e-5, "exp_avg_sq" + what);
    expect_close(download_f32(emas[i]), ema_ref[i], 1e-5, "ema" + what);
  }
}

// tools/reference/adamw_check.py: clip_grad_norm_(max_norm=1) + torch.optim.AdamW, 3 steps,
// lr 1e-2, 5e-3, 2.5e-3, weight_decay 0.1; output pasted here.
// torch 1.13.0a0
constexpr double kTorchParam[7] = {2.857370973e-01, 8.572893739e-01, 1.003789067e+00, 6.576527953e-01,
                                   2.540711127e-02, -6.176732183e-01, -9.586638212e-01};
constexpr double kTorchExpAvg[7] = {-4.826931283e-02, -9.747712314e-02, -3.880722215e-03, 9.540094435e-02,
                                    5.492000654e-02, -6.601887196e-02, -9.023994952e-02};
constexpr double kTorchExpAvgSq[7] = {4.105835687e-04, 4.467523831e-04, 4.125447012e-04, 4.350002273e-04,
                                      4.307241470e-04, 4.155968491e-04, 4.457977484e-04};

TEST_F(AdamWTest, ReferenceAndDeviceAgreeWithTorch) {
  const int n = 7;
  const double lrs[3] = {1e-2, 5e-3, 2.5e-3};
  auto initial = [](int i) { return std::sin(0.7 * i + 0.3); };
  auto grad = [](int step, int i) { return std::cos(1.3 * i + step) * (1.0 + 0.5 * step); };
  std::vector<double> p(n), m(n, 0.0), v(n, 0.0);
  std::vector<float> p32(n);
  for (int i = 0; i < n; ++i) p32[i] = float(initial(i));
  p.assign(p32.begin(), p32.end());

  Tensor param = arena().allocate({n}, DType::F32, "param");
  upload_f32(param, p32);
  Tensor g = arena().allocate({n}, DType::F32, "grad");
  ops::AdamWState state{param, g, zeros({n}, "exp_avg"), zeros({n}, "exp_avg_sq")};
  Tensor block = hyper_block();
  Tensor clip = poisoned_tensor({ops::kGradNormResultSize}, "grad_norm");
  std::vector<Tensor> grads{g};
  Tensor scratch = poisoned_tensor({ops::grad_norm_scratch_size(grads)}, "scratch");
  CommandSequence seq(ctx());
  ops::grad_norm(seq, grads, clip, scratch, 1.0f);
  ops::adamw_step(seq, std::span<const ops::AdamWState>(&state, 1), block, &clip);

  reference::AdamWConfig config;
  config.weight_decay = 0.1;
  for (int step = 1; step <= 3; ++step) {
    std::vector<float> g32(n);
    for (int i = 0; i < n; ++i) g32[i] = float(grad(step, i));
    std::vector<double> gd(g32.begin(), g32.end());
    config.lr = lrs[step - 1];
    reference::adamw_step(p, m, v, gd, config, step,
                          reference::clip_coefficient(reference::global_norm({gd}), 1.0));
    upload_f32(g, g32);  // this test also changes the gradient: the real training step writes it on the device
    ops::OptimizerHyperParams h;
    h.lr = config.lr;
    h.weight_decay = config.weight_decay;
    h.step = step;
    write_block(block, h);
    seq.run();
  }
  const std::vector<double> tp(kTorchParam, kTorchParam + n), tm(kTorchExpAvg, kTorchExpAvg + n),
      tv(kTorchExpAvgSq, kTorchExpAvgSq + n);
  // torch ran in f32: its values carry a few f32 roundings, ~1e-7 relative; 1e-5 leaves margin.
  std::vector<float> pf(p.begin(), p.end()), mf(m.begin(), m.end()), vf(v.begin(), v.end());
  expect_close(pf, tp, 1e-5, "reference param vs torch");
  expect_close(mf, tm, 1e-5, "reference exp_avg vs torch");
  expect_close(vf, tv, 1e-5, "reference exp_avg_sq vs torch");
  expect_close(download_f32(param), tp, 1e-5, "device param vs torch");
  expect_close(download_f32(state.exp_avg), tm, 1e-5, "device exp_avg vs torch");
  expect_close(download_f32(state.exp_avg_sq), tv, 1e-5, "device exp_avg_sq vs torch");
}

// A training-step tail (loss, its gradient, grad norm, AdamW with clipping, EMA) recorded
// once and run twice from the same initial state: the results must be bit-identical.
TEST_F(AdamWTest, RecordedSequenceIsBitwiseDeterministic) {
  const Shape shape{3, 4, 33, 17};
  Tensor pred = random_tensor(shape, 1, -1, 1, "pred");
  Tensor target = random_tensor(shape, 2, -1, 1, "target");
  Tensor weights = random_tensor({3}, 3, 0.5f, 2.0f, "weights");
  Tensor loss = poisoned_tensor({1}, "loss");
  Tensor loss_scratch = poisoned_tensor({ops::mse_loss_scratch_size(pred.numel())}, "loss_scratch");
  // The "parameters" are the prediction itself, so the gradient is the loss gradient.
  Tensor dpred = poisoned_tensor(shape, "dpred");
  Tensor m = zeros(shape, "exp_avg"), v = zeros(shape, "exp_avg_sq");
  Tensor ema = random_tensor(shape, 4, -1, 1, "ema");
  Tensor block = hyper_block();
  Tensor clip = poisoned_tensor({ops::kGradNormResultSize}, "grad_norm");
  std::vector<Tensor> grads{dpred};
  Tensor scratch = poisoned_tensor({ops::grad_norm_scratch_size(grads)}, "scratch");
  ops::AdamWState state{pred, dpred, m, v};
  CommandSequence seq(ctx());
  ops::mse_loss_forward(seq, pred, target, &weights, loss, loss_scratch);
  ops::mse_loss_backward(seq, pred, target, &weights, dpred);
  ops::grad_norm(seq, grads, clip, scratch, 1e-3f);
  ops::adamw_step(seq, std::span<const ops::AdamWState>(&state, 1), block, &clip);
  ops::ema_update(seq, std::span<const Tensor>(&pred, 1), std::span<const Tensor>(&ema, 1), block);

  std::vector<Tensor> all{pred, m, v, ema, loss, clip};
  std::vector<std::vector<float>> initial;
  for (const Tensor& t : all) initial.push_back(download_f32(t));
  auto run_steps = [&] {
    for (size_t i = 0; i < all.size(); ++i) upload_f32(all[i], initial[i]);
    for (int64_t step = 1; step <= 3; ++step) {
      ops::OptimizerHyperParams h;
      h.lr = scheduled_lr(step);
      h.step = step;
      write_block(block, h);
      seq.run();
    }
    std::vector<std::vector<float>> out;
    for (const Tensor& t : all) out.push_back(download_f32(t));
    return out;
  };
  auto first = run_steps();
  auto second = run_steps();
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(first[i].size(), second[i].size());
    EXPECT_EQ(0, std::memcmp(first[i].data(), second[i].data(), first[i].size() * sizeof(float)))
        << all[i].describe() << " differs between two runs";
    for (float x : first[i]) ASSERT_TRUE(std::isfinite(x)) << all[i].describe();
  }
}

TEST_F(AdamWTest, BadArgumentsAreClearErrors) {
  Tensor p = random_tensor({4, 5}, 1, -1, 1, "param");
  Tensor g = random_tensor({5, 4}, 2, -1, 1, "grad");
  ops::AdamWState state{p, g, zeros({4, 5}, "exp_avg"), zeros({4, 5}, "exp_avg_sq")};
  Tensor block = hyper_block();
  CommandSequence seq(ctx());
  try {
    ops::adamw_step(seq, std::span<const ops::AdamWState>(&state, 1), block);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("param [4,5] f32"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("grad [5,4] f32"), std::string::npos) << e.what();
  }
  state.grad = random_tensor({4, 5}, 3, -1, 1, "grad");
  Tensor short_block = poisoned_tensor({8}, "short_block");
  EXPECT_THROW(ops::adamw_step(seq, std::span<const ops::AdamWState>(&state, 1), short_block), ShapeError);
  ops::OptimizerHyperParams h;
  h.step = 0;
  EXPECT_THROW(ops::pack_optimizer_block(h), Error);
}

}  // namespace
}  // namespace tessera::testing
