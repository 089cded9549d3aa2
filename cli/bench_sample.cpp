// `tessera bench sample`: generation latency at batch 1 - one sampler step (U-Net forward +
// DPM-Solver++ update, one submit) and a whole generation - at several sizes, beside the same
// with PyTorch CPU (tools/bench_torch.py sample) in the same run. Also the step's sustained
// FLOP rate as a fraction of the conv kernel's own rate at the model's widest full-resolution
// shape (SPEC §10: >= 60% on lavapipe), the launch-overhead measure.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "args.hpp"
#include "bench_support.hpp"
#include "commands.hpp"
#include "tessera/error.hpp"
#include "tessera/model_file.hpp"
#include "tessera/rng.hpp"
#include "tessera/sampler.hpp"
#include "tessera/unet.hpp"

namespace tessera::cli {

namespace {

constexpr const char* kDefaultConfig =
    R"({"base_channels": 32, "channel_mult": [1, 2, 2], "num_res_blocks": 2, "attention_resolutions": [8],
        "num_heads": 4, "norm_groups": 8, "num_classes": 9, "padding": "circular", "train_resolution": 32,
        "schedule": "cosine"})";

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int bench_sample_main(const std::vector<std::string>& argv) {
  Args a(argv, {"model", "config", "res", "steps", "iters", "gen-iters", "guidance", "threads", "torch-script"},
         {"no-torch", "portable", "help"});
  if (a.has("help")) {
    std::printf(
        "usage: tessera bench sample [--model FILE | --config JSON] [--res 64,256] [--steps 25] [--iters 5]\n"
        "                            [--gen-iters 1] [--guidance 1] [--threads N] [--no-torch] [--portable]\n"
        "--portable: time portable mode (docs/portable.md) instead of the fast kernels\n"
        "Without --model or --config: random weights of %s\n",
        kDefaultConfig);
    return 0;
  }
  std::vector<int> sizes = a.int_list("res", {64, 256});
  int steps = static_cast<int>(a.integer("steps", 25, 1, 1000));
  int iters = static_cast<int>(a.integer("iters", 5, 1, 1000));
  int gen_iters = static_cast<int>(a.integer("gen-iters", 1, 1, 100));
  double guidance = a.number("guidance", 1.0, 0.0, 100.0);
  int threads = static_cast<int>(a.integer("threads", std::max(1u, std::thread::hardware_concurrency()), 1, 1024));

  ContextOptions context_options;
  context_options.portable = a.has("portable");
  auto ctx = Context::create(context_options);
  UNetConfig config;
  std::unique_ptr<ParameterSet> weights;
  std::string source;
  if (a.has("model")) {
    LoadedModel m = load_model(*ctx, a.str("model", ""));
    config = m.info.config;
    weights = std::move(m.params);
    source = a.str("model", "");
  } else {
    config = UNetConfig::from_json(a.str("config", kDefaultConfig));
    config.validate();
    weights = std::make_unique<ParameterSet>();
    UNet::declare_parameters(config, *weights);
    weights->allocate(*ctx, false);
    uint64_t stream = 1;
    for (const auto& e : weights->entries()) {  // random weights: speed does not depend on values
      std::vector<float> w(static_cast<size_t>(shape_numel(e.shape)));
      rng::fill_normal(w, 1, stream++);
      for (float& v : w) v *= 0.05f;
      weights->upload(e.name, w);
    }
    source = "random weights";
  }
  for (int s : sizes)
    if (s < 1 || s % config.size_multiple())
      throw Error("bench sample: --res " + std::to_string(s) + " is not a multiple of " +
                  std::to_string(config.size_multiple()));
  std::printf("device: %s (%s), kernel variant %s, %s mode\ndate: %s, load average %s\nmodel: %s, %s\n",
              ctx->info().name.c_str(), ctx->info().driver.c_str(), kernel_variant_name(ctx->variant()),
              ctx->portable() ? "portable" : "fast",
              bench_date().c_str(), load_average().c_str(), source.c_str(), config.to_json().c_str());
  std::printf("batch 1, dpmpp2m, %d steps, guidance %g (%s)\n\n", steps, guidance,
              guidance != 1.0 ? "conditional and null passes in one batch of 2" : "one pass");
  std::fflush(stdout);

  struct Row {
    int res;
    double step_ms, step_gpu_ms, gen_ms, gflop_per_step, conv_gflops;
  };
  std::vector<Row> rows;
  for (int res : sizes) {
    SamplerOptions o;
    o.steps = steps;
    o.guidance = guidance;
    Sampler sampler(*ctx, config, *weights, 1, res, res, o);
    std::vector<uint64_t> seeds{1};
    std::vector<uint32_t> labels{0};
    std::span<const uint32_t> label_span = config.num_classes > 0 ? labels : std::span<const uint32_t>{};
    sampler.sample({seeds, label_span});  // warm-up: pipelines are created on first use
    std::vector<double> step_ms, gpu_ms, gen_ms;
    for (int g = 0; g < gen_iters; ++g) {
      auto t = std::chrono::steady_clock::now();
      sampler.sample({seeds, label_span});
      gen_ms.push_back(ms_since(t));
    }
    for (int i = 0; i < iters; ++i) {  // single steps from the middle of a generation
      sampler.start({seeds, label_span});
      for (int k = 0; k < sampler.steps_total() / 2; ++k) sampler.step();
      auto t = std::chrono::steady_clock::now();
      sampler.step();
      step_ms.push_back(ms_since(t));
      gpu_ms.push_back(sampler.last_step_gpu_ms());
    }
    const auto* unet = dynamic_cast<const UNet*>(&sampler.denoiser());
    double flops = unet ? unet->forward_flops() : 0;
    double conv_ms = conv_reference_ms(*ctx, 1, config.base_channels, res, config, std::max(3, iters));
    double conv_gflops = 2.0 * config.base_channels * config.base_channels * 9 * res * res / (conv_ms * 1e6);
    rows.push_back({res, median(step_ms), median(gpu_ms), median(gen_ms), flops / 1e9, conv_gflops});
    std::printf("timed %dx%d\n", res, res);
    std::fflush(stdout);
  }

  TorchRun torch{"skipped (--no-torch)", {}};
  if (!a.has("no-torch")) {
    std::string res_list;
    for (int s : sizes) res_list += (res_list.empty() ? "" : ",") + std::to_string(s);
    char g[32];
    std::snprintf(g, sizeof g, "%g", guidance);
    torch = run_bench_torch(find_bench_torch_script(a.str("torch-script", "")),
                            "sample --threads " + std::to_string(threads) + " --iters " + std::to_string(iters) +
                                " --gen-iters " + std::to_string(gen_iters) + " --res " + res_list + " --steps " +
                                std::to_string(steps) + " --guidance " + g + " --config '" + config.to_json() + "'");
  }
  std::printf("\nPyTorch CPU reference: %s\n", torch.status.c_str());
  std::printf("%-9s %10s %10s %9s %10s %8s %11s %11s %8s %11s %8s\n", "size", "step ms", "step GPU", "GFLOP", "GFLOP/s",
              "of conv", "gen ms", "torch step", "ratio", "torch gen", "ratio");
  for (const Row& r : rows) {
    std::string id = std::to_string(r.res);
    double ts = torch.results.count("step_" + id) ? torch.results["step_" + id].median_ms : 0;
    double tg = torch.results.count("gen_" + id) ? torch.results["gen_" + id].median_ms : 0;
    double rate = r.gflop_per_step / (r.step_ms / 1e3);
    auto cell = [](double v, const char* fmt) {
      char buf[32];
      if (v > 0) std::snprintf(buf, sizeof buf, fmt, v);
      else std::snprintf(buf, sizeof buf, "-");
      return std::string(buf);
    };
    std::printf("%-9s %10.2f %10.2f %9.3f %10.2f %7.0f%% %11.1f %11s %8s %11s %8s\n",
                (id + "x" + id).c_str(), r.step_ms, r.step_gpu_ms, r.gflop_per_step, rate, 100 * rate / r.conv_gflops,
                r.gen_ms, cell(ts, "%.2f").c_str(), cell(ts / r.step_ms, "%.2f").c_str(), cell(tg, "%.1f").c_str(),
                cell(tg / r.gen_ms, "%.2f").c_str());
  }
  std::printf("(step: wall clock of one step() incl. submit and wait; 'of conv' = the step's conv+linear+attention\n"
              " FLOP rate / a 3x3 conv kernel's rate at [1, base, res, res] (target >= 60%%); ratio = torch ms / tessera ms)\n");
  return 0;
}

}  // namespace tessera::cli
