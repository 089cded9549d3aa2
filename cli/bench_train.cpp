// `tessera bench train`: one DDPM training step of a U-Net config on this device, beside the
// same step in PyTorch CPU (tools/bench_torch.py train) in the same run, plus the step's
// sustained FLOP rate as a fraction of a conv kernel's own rate at the model's widest
// full-resolution shape (SPEC §10: >= 70% on lavapipe), and the GPU time of each phase.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <thread>

#include "args.hpp"
#include "bench_profile.hpp"
#include "bench_support.hpp"
#include "commands.hpp"
#include "tessera/arena.hpp"
#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/conv2d.hpp"
#include "tessera/rng.hpp"
#include "tessera/training_step.hpp"

namespace tessera::cli {

namespace {

constexpr const char* kDefaultConfig =
    R"({"base_channels": 32, "channel_mult": [1, 2, 2], "num_res_blocks": 1, "attention_resolutions": [8],
        "num_heads": 4, "norm_groups": 8, "num_classes": 9, "padding": "circular", "train_resolution": 32})";

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int bench_train_main(const std::vector<std::string>& argv) {
  Args a(argv, {"config", "res", "batch", "steps", "threads", "torch-script"}, {"no-torch", "profile", "help"});
  if (a.has("help")) {
    std::printf(
        "usage: tessera bench train [--config JSON] [--res 32] [--batch 8] [--steps 5] [--threads N] [--no-torch]\n"
        "                          [--profile]   (then GPU time per op family and per kernel)\n"
        "default config: %s\n",
        kDefaultConfig);
    return 0;
  }
  UNetConfig config = UNetConfig::from_json(a.str("config", kDefaultConfig));
  int res = static_cast<int>(a.integer("res", config.train_resolution, 8, 1024));
  int batch = static_cast<int>(a.integer("batch", 8, 1, 1024));
  int steps = static_cast<int>(a.integer("steps", 5, 1, 10000));
  int threads = static_cast<int>(a.integer("threads", std::max(1u, std::thread::hardware_concurrency()), 1, 1024));
  config.train_resolution = res;
  config.validate();

  auto ctx = Context::create();
  std::printf("device: %s (%s), kernel variant %s\ndate: %s, load average %s\nconfig: %s, %dx%d, batch %d\n",
              ctx->info().name.c_str(), ctx->info().driver.c_str(), kernel_variant_name(ctx->variant()),
              bench_date().c_str(), load_average().c_str(), config.to_json().c_str(), res, res, batch);

  TrainHyperParams hp;
  TrainingStep step(*ctx, config, batch, res, hp);
  std::vector<float> images(size_t(batch) * config.channels() * res * res);
  rng::fill_uniform(images, 3, 1);
  for (float& f : images) f = 2 * f - 1;
  std::vector<uint32_t> labels(batch);
  for (int i = 0; i < batch; ++i) labels[i] = config.num_classes ? uint32_t(i % config.num_classes) : 0;
  step.run(images, labels);  // warm-up: pipelines are created on the first replay
  std::vector<double> ms;
  std::map<std::string, double> phase_ms;
  for (int i = 0; i < steps; ++i) {
    auto t = std::chrono::steady_clock::now();
    step.run(images, labels);
    ms.push_back(1e3 * seconds_since(t));
    for (const auto& timing : step.sequence().timings()) phase_ms[timing.label] += timing.ms / steps;
  }
  std::sort(ms.begin(), ms.end());
  double step_ms = ms[ms.size() / 2];
  double flops = 3 * step.forward_flops();  // forward + data and weight gradients
  double gflops = flops / (step_ms * 1e6);
  double conv_ms = conv_reference_ms(*ctx, batch, config.base_channels, res, config, std::max(3, steps));
  double conv_gflops = 2.0 * batch * config.base_channels * config.base_channels * 9 * res * res / (conv_ms * 1e6);

  std::printf("\ntessera: %.1f ms/step (median of %d), %.2f images/s, %.2f GFLOP/step, %.2f GFLOP/s\n", step_ms, steps,
              batch * 1e3 / step_ms, flops / 1e9, gflops);
  std::printf("conv kernel at [%d,%d,%d,%d] 3x3: %.2f GFLOP/s -> the step sustains %.0f%% of it (target >= 70%%)\n",
              batch, config.base_channels, res, res, conv_gflops, 100 * gflops / conv_gflops);
  double total = 0;
  for (auto& [k, v] : phase_ms) total += v;
  if (total > 0) {
    std::printf("GPU time per phase:");
    for (const char* k : {"noise", "forward", "backward", "optimizer"})
      if (phase_ms.count(k)) std::printf("  %s %.1f ms (%.0f%%)", k, phase_ms[k], 100 * phase_ms[k] / total);
    std::printf("\n");
  }
  if (a.has("profile")) {
    // After the timed steps: profiling adds a barrier per dispatch, so it must not touch them.
    step.profile_each_dispatch();
    step.run(images, labels);
    DispatchProfile profile;
    for (int i = 0; i < steps; ++i) {
      step.run(images, labels);
      profile.add(step.sequence().dispatch_timings());
    }
    profile.print(15);
    // The overhead view of the same target: the conv and matmul kernels' own rate inside this
    // step (same shapes, same run), against the whole step's rate.
    double kernel_ms = profile.flop_kernel_ms();
    if (kernel_ms > 0)
      std::printf("conv + matmul kernels inside the step: %.1f ms/step, %.2f GFLOP/s -> the step sustains %.0f%% of "
                  "their rate (target >= 70%%)\n",
                  kernel_ms, flops / (kernel_ms * 1e6), 100 * kernel_ms / step_ms);
  }

  if (a.has("no-torch")) return 0;
  TorchRun torch = run_bench_torch(
      find_bench_torch_script(a.str("torch-script", "")),
      "train --threads " + std::to_string(threads) + " --iters " + std::to_string(steps) + " --res " +
          std::to_string(res) + " --batch " + std::to_string(batch) + " --config '" + config.to_json() + "'");
  double torch_ms = torch.results.count("train") ? torch.results["train"].median_ms : 0;
  std::string torch_status = torch.status;
  if (torch_ms > 0) {
    std::printf("pytorch CPU (%d threads): %.1f ms/step, %.2f images/s -> ratio tessera/pytorch %.2f\n", threads,
                torch_ms, batch * 1e3 / torch_ms, torch_ms / step_ms);
  } else {
    std::printf("pytorch CPU: %s\n", torch_status.c_str());
  }
  return 0;
}

}  // namespace tessera::cli
