// `tessera train`: trains a U-Net on a folder of textures (SPEC §5), entirely on the Vulkan
// device. Writes into --out: checkpoint.safetensors (raw weights, AdamW moments, EMA, step),
// model.safetensors (EMA weights, the file to sample with), loss.csv, loss.png and
// samples/step-NNNNNNN.png grids (DPM-Solver++, one row per class). --resume continues bit-identically from the checkpoint;
// Ctrl-C saves a checkpoint and exits.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "args.hpp"
#include "commands.hpp"
#include "stale_temporaries.hpp"
#include "tessera/context.hpp"
#include "tessera/dataset.hpp"
#include "tessera/error.hpp"
#include "tessera/image_io.hpp"
#include "tessera/model_file.hpp"
#include "tessera/sampler.hpp"
#include "tessera/training_log.hpp"
#include "tessera/training_step.hpp"

namespace tessera::cli {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_interrupted{false};
void on_sigint(int) { g_interrupted = true; }

const char* kUsage =
    "usage: tessera train --data DIR [options]\n"
    "  --data DIR            folder of PNG/JPEG textures; sub-folders are classes\n"
    "  --out DIR             where checkpoints, model, logs and samples go (default: train-out)\n"
    "  --resume              continue from DIR/checkpoint.safetensors (same options)\n"
    "model:   --res 32 --base 32 --mult 1,2,2 --res-blocks 1 --attn 8 (resolutions, '' for none)\n"
    "         --heads 4 --groups 8 --padding circular|zeros --schedule linear|cosine --prediction eps|v\n"
    "         --unconditional (ignore class folders)\n"
    "training: --steps 10000 --batch 16 --lr 2e-4 --warmup 200 --weight-decay 0 --grad-clip 1\n"
    "         --ema 0.999 --label-dropout 0.1 --min-snr 0 (gamma; 0 = off) --seed 0\n"
    "reports: --sample-every 500 --sample-steps 25 --checkpoint-every 500 --log-every 10\n";

struct Options {
  int batch = 16, res = 32;
  int64_t steps = 10000, sample_every = 500, checkpoint_every = 500, log_every = 10;
  int sample_steps = 25;
  TrainHyperParams hp;

  nlohmann::json to_json() const {
    return {{"batch", batch}, {"res", res}, {"lr", hp.lr}, {"warmup", hp.warmup_steps},
            {"weight_decay", hp.weight_decay}, {"grad_clip", hp.grad_clip}, {"ema", hp.ema_decay},
            {"label_dropout", hp.label_dropout}, {"min_snr", hp.min_snr_gamma}, {"seed", hp.seed}};
  }
  void from_json(const nlohmann::json& j) {
    batch = j.at("batch");
    res = j.at("res");
    hp.lr = j.at("lr");
    hp.warmup_steps = j.at("warmup");
    hp.weight_decay = j.at("weight_decay");
    hp.grad_clip = j.at("grad_clip");
    hp.ema_decay = j.at("ema");
    hp.label_dropout = j.at("label_dropout");
    hp.min_snr_gamma = j.at("min_snr");
    hp.seed = j.at("seed");
  }
};

// Sample grids from the EMA weights: one row per class (or 4 rows unconditional), 4 columns.
class GridWriter {
 public:
  GridWriter(Context& ctx, const ModelInfo& info, int res, int steps) : info_(info), res_(res) {
    int classes = info.config.num_classes;
    rows_ = classes > 0 ? std::min(classes, 9) : 4;
    UNet::declare_parameters(info.config, weights_);
    weights_.allocate(ctx, false);
    SamplerOptions o;
    o.kind = SamplerKind::DpmSolver2M;
    o.steps = steps;
    sampler_ = std::make_unique<Sampler>(ctx, info.config, weights_, rows_ * kColumns, res, res, o);
  }
  void write(const fs::path& path, const std::vector<float>& ema, uint64_t seed) {
    weights_.upload_flat(ema);
    std::vector<uint32_t> labels(rows_ * kColumns);
    std::vector<uint64_t> seeds(labels.size());
    for (size_t i = 0; i < labels.size(); ++i) {
      labels[i] = info_.config.num_classes > 0 ? uint32_t(i / kColumns) : 0;
      seeds[i] = seed + i % kColumns;  // the same noise in every row: only the class differs
    }
    auto images = sampler_->sample({seeds, labels});
    save_image_grid(path, images, rows_ * kColumns, res_, res_, kColumns);
  }

 private:
  static constexpr int kColumns = 4;
  ModelInfo info_;
  int res_, rows_;
  ParameterSet weights_;
  std::unique_ptr<Sampler> sampler_;
};

}  // namespace

int train_main(const std::vector<std::string>& argv) {
  Args a(argv,
         {"data", "out", "res", "base", "mult", "res-blocks", "attn", "heads", "groups", "padding", "schedule",
          "prediction", "steps", "batch", "lr", "warmup", "weight-decay", "grad-clip", "ema", "label-dropout",
          "min-snr", "seed", "sample-every", "sample-steps", "checkpoint-every", "log-every"},
         {"resume", "unconditional", "help"});
  if (a.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!a.has("data")) {
    std::fputs(kUsage, stderr);
    throw Error("--data is required");
  }
  fs::path out = a.str("out", "train-out");
  fs::path checkpoint_path = out / "checkpoint.safetensors", model_path = out / "model.safetensors";
  fs::create_directories(out / "samples");
  remove_stale_temporaries({out, out / "samples"});

  Options opt;
  ModelInfo info;
  Checkpoint resumed;
  bool resume = a.has("resume");
  if (resume) {
    if (!fs::exists(checkpoint_path)) throw Error("--resume: no checkpoint at '" + checkpoint_path.string() + "'");
    resumed = load_checkpoint(checkpoint_path);
    info = resumed.info;
    auto j = nlohmann::json::parse(resumed.options_json, nullptr, false);
    if (j.is_discarded()) throw Error(checkpoint_path.string() + ": training options are not valid JSON");
    opt.from_json(j);
  } else {
    opt.res = static_cast<int>(a.integer("res", 32, 8, 1024));
    opt.batch = static_cast<int>(a.integer("batch", 16, 1, 4096));
    opt.hp.lr = a.number("lr", 2e-4, 1e-8, 1.0);
    opt.hp.warmup_steps = a.integer("warmup", 200, 0, 1'000'000'000);
    opt.hp.weight_decay = a.number("weight-decay", 0.0, 0.0, 1.0);
    opt.hp.grad_clip = a.number("grad-clip", 1.0, 0.0, 1e9);
    opt.hp.ema_decay = a.number("ema", 0.999, 0.0, 1.0);
    opt.hp.label_dropout = a.number("label-dropout", 0.1, 0.0, 1.0);
    opt.hp.min_snr_gamma = a.number("min-snr", 0.0, 0.0, 1e6);
    opt.hp.seed = static_cast<uint64_t>(a.integer("seed", 0, 0, INT64_MAX));
    UNetConfig& c = info.config;
    c.base_channels = static_cast<int>(a.integer("base", 32, 1, 4096));
    c.channel_mult = a.int_list("mult", {1, 2, 2});
    c.num_res_blocks = static_cast<int>(a.integer("res-blocks", 1, 1, 16));
    c.attention_resolutions = a.int_list("attn", {8});
    c.num_heads = static_cast<int>(a.integer("heads", 4, 1, 64));
    c.norm_groups = static_cast<int>(a.integer("groups", 8, 1, 1024));
    std::string padding = a.str("padding", "circular"), schedule = a.str("schedule", "linear"),
                prediction = a.str("prediction", "eps");
    if (padding != "circular" && padding != "zeros") throw Error("--padding must be circular or zeros");
    if (schedule != "linear" && schedule != "cosine") throw Error("--schedule must be linear or cosine");
    if (prediction != "eps" && prediction != "v") throw Error("--prediction must be eps or v");
    c.padding = padding == "circular" ? PaddingMode::Circular : PaddingMode::Zeros;
    c.schedule = schedule == "cosine" ? Schedule::Cosine : Schedule::Linear;
    c.prediction = prediction == "v" ? Prediction::V : Prediction::Eps;
    c.train_resolution = opt.res;
  }
  opt.steps = a.integer("steps", 10000, 1, 1'000'000'000);
  opt.sample_every = a.integer("sample-every", 500, 0, INT64_MAX);
  opt.sample_steps = static_cast<int>(a.integer("sample-steps", 25, 1, 1000));
  opt.checkpoint_every = a.integer("checkpoint-every", 500, 1, INT64_MAX);
  opt.log_every = a.integer("log-every", 10, 1, INT64_MAX);

  std::vector<std::string> warnings;
  Dataset data = Dataset::load(a.str("data", ""), opt.res, warnings);
  for (const auto& w : warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  bool conditional = !a.has("unconditional") && !(data.classes().size() == 1 && data.classes()[0].empty());
  if (resume) {
    if (info.config.num_classes > 0 && data.classes() != info.classes)
      throw Error("--resume: the data folder's classes differ from the checkpoint's");
  } else {
    info.classes = conditional ? data.classes() : std::vector<std::string>{};
    info.config.num_classes = static_cast<int>(info.classes.size());
    info.config.validate();
  }
  info.provenance["trainer"] = "tessera train";
  info.provenance["data"] = fs::absolute(a.str("data", "")).string();
  info.provenance["options"] = opt.to_json().dump();

  auto ctx = Context::create();
  std::fprintf(stderr, "device: %s (%s)\n", ctx->info().name.c_str(), ctx->info().selection_reason.c_str());
  std::fprintf(stderr, "data: %zu images in %zu classes; model %s\n", data.size(), data.classes().size(),
               info.config.to_json().c_str());
  TrainingStep trainer(*ctx, info.config, opt.batch, opt.res, opt.hp);
  std::fprintf(stderr, "parameters: %lld, activations: %.1f MiB, %.2f GFLOP per step\n",
               (long long)trainer.params().parameter_count(), trainer.unet().activation_bytes() / 1048576.0,
               3 * trainer.forward_flops() / 1e9);
  if (resume) {
    trainer.load_state({resumed.step, resumed.weights, resumed.ema, resumed.adam_m, resumed.adam_v});
    std::fprintf(stderr, "resumed at step %lld\n", (long long)resumed.step);
  }
  LossLog log(out / "loss.csv", trainer.step());
  std::unique_ptr<GridWriter> grids;

  auto save_all = [&](bool with_grid) {
    TrainingStep::State s = trainer.save_state();
    Checkpoint c{info, s.step, opt.hp.seed, opt.to_json().dump(), s.weights, s.ema, s.adam_m, s.adam_v};
    save_checkpoint(checkpoint_path, c);
    info.provenance["steps"] = std::to_string(s.step);
    save_model(model_path, info, s.ema);
    plot_loss_curve(out / "loss.png", log.points());
    if (with_grid && opt.sample_every > 0) {
      if (!grids) grids = std::make_unique<GridWriter>(*ctx, info, opt.res, opt.sample_steps);
      char name[64];
      std::snprintf(name, sizeof name, "step-%07lld.png", (long long)s.step);
      grids->write(out / "samples" / name, s.ema, opt.hp.seed);
    }
  };

  std::signal(SIGINT, on_sigint);
  bool tty = ::isatty(STDERR_FILENO);
  auto start = std::chrono::steady_clock::now();
  auto last_print = start;
  int64_t first_step = trainer.step();
  double smoothed = -1;
  std::vector<float> images;
  std::vector<uint32_t> labels;
  while (trainer.step() < opt.steps && !g_interrupted) {
    data.sample_batch(opt.hp.seed, trainer.step(), opt.batch, opt.res, images, labels);
    StepResult r = trainer.run(images, labels);
    if (!std::isfinite(r.loss)) throw Error("training diverged: loss is " + std::to_string(r.loss) + " at step " + std::to_string(r.step));
    auto now = std::chrono::steady_clock::now();
    double elapsed = std::chrono::duration<double>(now - start).count();
    log.append(r.step, r.loss, r.grad_norm, r.lr, elapsed);
    smoothed = smoothed < 0 ? r.loss : 0.95 * smoothed + 0.05 * r.loss;
    ProgressState p{r.step, opt.steps, smoothed, (r.step - first_step) / std::max(elapsed, 1e-9), opt.batch};
    if (tty && std::chrono::duration<double>(now - last_print).count() > 0.1) {
      std::fprintf(stderr, "\r%s", format_progress(p).c_str());
      last_print = now;
    } else if (!tty && r.step % opt.log_every == 0) {
      std::fprintf(stderr, "%s\n", format_progress(p).c_str());
    }
    bool grid_now = opt.sample_every > 0 && r.step % opt.sample_every == 0;
    if (r.step % opt.checkpoint_every == 0 || grid_now) save_all(grid_now);
  }
  if (tty) std::fputc('\n', stderr);
  // Ctrl-C saves the checkpoint and model and exits at once: the sample grid (minutes on a CPU
  // device) is left for the finished run.
  save_all(!g_interrupted);
  if (g_interrupted) {
    std::fprintf(stderr, "interrupted at step %lld: checkpoint saved to %s (continue with --resume)\n",
                 (long long)trainer.step(), checkpoint_path.string().c_str());
    return 130;
  }
  if (auto messages = ctx->validation_messages(); !messages.empty()) {
    for (const auto& m : messages) std::fprintf(stderr, "vulkan validation: %s\n", m.c_str());
    return 3;  // TESSERA_VALIDATION=1 runs (tests) must see these
  }
  std::fprintf(stderr, "done: %lld steps; model %s, loss curve %s\n", (long long)trainer.step(),
               model_path.string().c_str(), (out / "loss.png").string().c_str());
  return 0;
}

}  // namespace tessera::cli
