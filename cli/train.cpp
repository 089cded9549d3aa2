// `tessera train`: trains a U-Net on a folder of textures (SPEC §5), entirely on the Vulkan
// device. Writes into --out: checkpoint.safetensors (raw weights, AdamW moments, EMA, step,
// options), model.safetensors (EMA weights, the file to sample with), loss.csv, loss.png and
// samples/step-NNNNNNN.png grids (DPM-Solver++, one row per class). One run per folder: the
// folder is locked, and a new run refuses a folder holding an earlier one (--resume, --force).
// --resume continues bit-identically from the checkpoint; SIGINT, SIGTERM and SIGHUP save a
// checkpoint and exit (cli/stop_signals.hpp).
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "args.hpp"
#include "commands.hpp"
#include "folder_lock.hpp"
#include "generation_options.hpp"
#include "stale_temporaries.hpp"
#include "stop_signals.hpp"
#include "tessera/context.hpp"
#include "tessera/dataset.hpp"
#include "tessera/error.hpp"
#include "tessera/image_io.hpp"
#include "tessera/material_images.hpp"
#include "tessera/model_file.hpp"
#include "tessera/sampler.hpp"
#include "tessera/training_log.hpp"
#include "tessera/training_step.hpp"
#include "tessera/utf8.hpp"
#include "tessera/warm_start.hpp"

namespace tessera::cli {

namespace fs = std::filesystem;

namespace {

const char* kUsage =
    "usage: tessera train --data DIR [options]\n"
    "  --data DIR            folder of PNG/JPEG textures; sub-folders are classes\n"
    "  --maps albedo,...     the maps the model generates (default albedo): with more than albedo,\n"
    "                        each sample is <stem>_<map>.png per map (a material set, e.g.\n"
    "                        --maps albedo,height,roughness; SPEC §12)\n"
    "  --out DIR             where checkpoints, model, logs and samples go (default: train-out);\n"
    "                        one run at a time per folder (locked); a new run refuses a folder\n"
    "                        that holds an earlier run\n"
    "  --resume              continue the run in --out from its checkpoint.safetensors\n"
    "  --init-from MODEL     start a new run from a trained model's weights (fine-tuning); its maps\n"
    "                        and classes may differ: shared ones carry over, by name\n"
    "  --force               start a new run in a folder that holds one: deletes its checkpoint,\n"
    "                        model, loss log, loss curve and sample grids first\n"
    "model:   --res 32 --base 32 --mult 1,2,2 --res-blocks 1 --attn 8 (resolutions, '' for none)\n"
    "         --heads 4 --groups 8 --padding circular|zeros --schedule linear|cosine --prediction eps|v\n"
    "         --unconditional (ignore class folders)\n"
    "data:    --batch 16 --seed 0\n"
    "training: --steps 10000 --lr 2e-4 --warmup 200 --weight-decay 0 --grad-clip 1\n"
    "         --ema 0.999 --label-dropout 0.1 --min-snr 0 (gamma; 0 = off)\n"
    "reports: --sample-every 500 --sample-steps 25 --checkpoint-every 500 --log-every 10\n"
    "--resume takes the model, data and training options from the checkpoint. A model or data\n"
    "option given again must keep its value (a change is refused, naming each one); a training\n"
    "option given with a new value is applied from the resumed step on, and each change is\n"
    "printed. Report options apply to the current invocation only.\n"
    "SIGINT (Ctrl-C), SIGTERM or SIGHUP: the current step finishes, a sample grid in progress is\n"
    "abandoned, a checkpoint is saved, and the exit status is 128 + the signal number. A second\n"
    "signal exits at once without saving (a file being written is finished first).\n";

// Every option a checkpoint records, with a new run's defaults. A resumed run starts from the
// checkpoint's values instead, so that one parser serves both and a resume can list changes.
struct Options {
  UNetConfig model;  // --res is model.train_resolution, also the crop size
  bool unconditional = false;
  int batch = 16;
  int64_t steps = 10000;
  TrainHyperParams hp;

  static Options new_run() {
    Options o;
    o.model.base_channels = 32;
    o.model.channel_mult = {1, 2, 2};
    o.model.num_res_blocks = 1;
    o.model.attention_resolutions = {8};
    o.model.num_heads = 4;
    o.model.norm_groups = 8;
    o.model.padding = PaddingMode::Circular;
    o.model.schedule = Schedule::Linear;
    o.model.prediction = Prediction::Eps;
    o.model.train_resolution = 32;
    return o;
  }

  static Options from_checkpoint(const Checkpoint& c, const fs::path& path) {
    Options o;
    o.model = c.info.config;
    o.unconditional = c.info.config.num_classes == 0;
    try {
      auto j = nlohmann::json::parse(c.options_json);
      o.batch = j.at("batch");
      o.hp.lr = j.at("lr");
      o.hp.warmup_steps = j.at("warmup");
      o.hp.weight_decay = j.at("weight_decay");
      o.hp.grad_clip = j.at("grad_clip");
      o.hp.ema_decay = j.at("ema");
      o.hp.label_dropout = j.at("label_dropout");
      o.hp.min_snr_gamma = j.at("min_snr");
      o.hp.seed = j.at("seed");
      o.steps = j.value("steps", o.steps);  // recorded since --resume applies a changed --steps
    } catch (const nlohmann::json::exception& e) {
      throw Error(path.string() + ": the recorded training options are not usable: " + e.what());
    }
    return o;
  }

  nlohmann::json to_json() const {
    return {{"batch", batch},
            {"res", model.train_resolution},
            {"lr", hp.lr},
            {"warmup", hp.warmup_steps},
            {"weight_decay", hp.weight_decay},
            {"grad_clip", hp.grad_clip},
            {"ema", hp.ema_decay},
            {"label_dropout", hp.label_dropout},
            {"min_snr", hp.min_snr_gamma},
            {"seed", hp.seed},
            {"steps", steps}};
  }
};

// What a resumed run may do with an option given again: the model and the batches it sees are
// fixed by the checkpoint; the optimisation may change from the resumed step on.
enum class OptionGroup { Model, Data, Training };

// One recorded option: how it is read from the command line (the current value as the
// fallback) and how its value is written, for the messages of a resume.
struct RecordedOption {
  const char* name;
  OptionGroup group;
  bool flag;
  std::function<void(const Args&, Options&)> read;
  std::function<std::string(const Options&)> shown;
};

std::string shown_number(double v) {
  char buf[32];
  // The shortest text that reads back as v, fixed or scientific as %g would choose.
  auto end = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general).ptr;
  return std::string(buf, end);
}

std::string shown_list(const std::vector<int>& v) {
  std::string out;
  for (int x : v) {
    if (!out.empty()) out += ',';
    out += std::to_string(x);
  }
  return out.empty() ? "''" : out;
}

// `field` is a generic lambda (auto& o) { return &o.member; }, for reading and writing.
template <class Field>
RecordedOption integer_option(const char* name, OptionGroup group, long long min, long long max, Field field) {
  return {
      name, group, false,
      [=](const Args& a, Options& o) {
        auto* v = field(o);
        *v = static_cast<std::remove_reference_t<decltype(*v)>>(a.integer(name, static_cast<long long>(*v), min, max));
      },
      [=](const Options& o) { return std::to_string(*field(o)); }};
}

template <class Field>
RecordedOption number_option(const char* name, OptionGroup group, double min, double max, Field field) {
  return {name, group, false, [=](const Args& a, Options& o) { *field(o) = a.number(name, *field(o), min, max); },
          [=](const Options& o) { return shown_number(*field(o)); }};
}

template <class Field>
RecordedOption list_option(const char* name, Field field) {
  return {name, OptionGroup::Model, false, [=](const Args& a, Options& o) { *field(o) = a.int_list(name, *field(o)); },
          [=](const Options& o) { return shown_list(*field(o)); }};
}

std::vector<MapKind> parse_map_list(const Args& a, const std::vector<MapKind>& current) {
  if (!a.has("maps")) return current;
  std::vector<MapKind> maps;
  for (const std::string& name : a.items("maps")) {
    std::optional<MapKind> kind = map_from_name(name);
    if (!kind)
      throw Error("--maps: '" + escape_invalid_utf8(name, 64) + "' is not a map (maps: " + all_map_names() + ")");
    maps.push_back(*kind);
  }
  try {
    check_map_list(maps);
  } catch (const Error& e) {
    throw Error(std::string("--maps: ") + e.what());
  }
  return maps;
}

template <class Enum, class Field>
RecordedOption choice_option(const char* name, const char* (*to_name)(Enum), std::vector<Enum> values, Field field) {
  return {name, OptionGroup::Model, false,
          [=](const Args& a, Options& o) {
            std::string given = a.str(name, to_name(*field(o))), allowed;
            for (Enum e : values) {
              if (given == to_name(e)) return void(*field(o) = e);
              allowed += std::string(allowed.empty() ? "" : " or ") + to_name(e);
            }
            throw Error(std::string("--") + name + " must be " + allowed + ", got '" + escape_invalid_utf8(given, 64) +
                        "'");
          },
          [=](const Options& o) { return std::string(to_name(*field(o))); }};
}

const std::vector<RecordedOption>& recorded_options() {
  using G = OptionGroup;
  static const std::vector<RecordedOption> table = {
      integer_option("res", G::Model, 8, 1024, [](auto& o) { return &o.model.train_resolution; }),
      integer_option("base", G::Model, 1, 4096, [](auto& o) { return &o.model.base_channels; }),
      list_option("mult", [](auto& o) { return &o.model.channel_mult; }),
      integer_option("res-blocks", G::Model, 1, 16, [](auto& o) { return &o.model.num_res_blocks; }),
      list_option("attn", [](auto& o) { return &o.model.attention_resolutions; }),
      integer_option("heads", G::Model, 1, 64, [](auto& o) { return &o.model.num_heads; }),
      integer_option("groups", G::Model, 1, 1024, [](auto& o) { return &o.model.norm_groups; }),
      choice_option("padding", padding_name, {PaddingMode::Circular, PaddingMode::Zeros},
                    [](auto& o) { return &o.model.padding; }),
      choice_option("schedule", schedule_name, {Schedule::Linear, Schedule::Cosine},
                    [](auto& o) { return &o.model.schedule; }),
      choice_option("prediction", prediction_name, {Prediction::Eps, Prediction::V},
                    [](auto& o) { return &o.model.prediction; }),
      {"maps", G::Model, false, [](const Args& a, Options& o) { o.model.maps = parse_map_list(a, o.model.maps); },
       [](const Options& o) { return map_names(o.model.maps, ","); }},
      {"unconditional", G::Model, true, [](const Args& a, Options& o) { o.unconditional |= a.has("unconditional"); },
       [](const Options& o) { return std::string(o.unconditional ? "yes" : "no"); }},
      integer_option("batch", G::Data, 1, 4096, [](auto& o) { return &o.batch; }),
      integer_option("seed", G::Data, 0, INT64_MAX, [](auto& o) { return &o.hp.seed; }),
      integer_option("steps", G::Training, 1, 1'000'000'000, [](auto& o) { return &o.steps; }),
      number_option("lr", G::Training, 1e-8, 1.0, [](auto& o) { return &o.hp.lr; }),
      integer_option("warmup", G::Training, 0, 1'000'000'000, [](auto& o) { return &o.hp.warmup_steps; }),
      number_option("weight-decay", G::Training, 0.0, 1.0, [](auto& o) { return &o.hp.weight_decay; }),
      number_option("grad-clip", G::Training, 0.0, 1e9, [](auto& o) { return &o.hp.grad_clip; }),
      number_option("ema", G::Training, 0.0, 1.0, [](auto& o) { return &o.hp.ema_decay; }),
      number_option("label-dropout", G::Training, 0.0, 1.0, [](auto& o) { return &o.hp.label_dropout; }),
      number_option("min-snr", G::Training, 0.0, 1e6, [](auto& o) { return &o.hp.min_snr_gamma; }),
  };
  return table;
}

Options read_options(const Args& a, Options o) {
  for (const RecordedOption& r : recorded_options()) r.read(a, o);
  return o;
}

// A resumed run's options against its checkpoint's: a changed model or data option is refused
// (naming each), changed training options are applied and printed.
void check_resumed_options(const Options& recorded, const Options& given, int64_t step) {
  std::string refused, applied;
  for (const RecordedOption& r : recorded_options()) {
    std::string was = r.shown(recorded), now = r.shown(given);
    if (was == now) continue;
    std::string& list = r.group == OptionGroup::Training ? applied : refused;
    list += std::string(list.empty() ? "" : ", ") + "--" + r.name + " " + was + " -> " + now;
  }
  if (!refused.empty())
    throw Error(
        "--resume: the model and data options cannot change in a resumed run, and these differ from the "
        "checkpoint's (checkpoint -> given): " +
        refused +
        ". Leave them out to continue the run, or start a new one in another --out (or --force to replace "
        "this one)");
  if (!applied.empty())
    std::fprintf(stderr, "resume: changed training options, applied from step %lld on: %s\n", (long long)step,
                 applied.c_str());
}

// The files a run writes into --out.
struct RunFiles {
  fs::path out, checkpoint, model, loss_log, loss_curve, samples;
  explicit RunFiles(const fs::path& dir)
      : out(dir),
        checkpoint(dir / "checkpoint.safetensors"),
        model(dir / "model.safetensors"),
        loss_log(dir / "loss.csv"),
        loss_curve(dir / "loss.png"),
        samples(dir / "samples") {}

  // The signs of an earlier run: its checkpoint, its model, a loss log with rows.
  std::vector<std::string> earlier_run() const {
    std::vector<std::string> found;
    std::error_code ec;
    for (const fs::path& p : {checkpoint, model})
      if (fs::exists(p, ec)) found.push_back(p.filename().string());
    uintmax_t log_size = fs::file_size(loss_log, ec);
    if (!ec && log_size > std::strlen(LossLog::kHeader)) found.push_back(loss_log.filename().string());
    return found;
  }

  // --force: the earlier run's files go before the new run writes any.
  void remove_earlier_run() const {
    for (const fs::path& p : {checkpoint, model, loss_log, loss_curve}) fs::remove(p);
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(samples, ec))
      if (e.path().filename().string().rfind("step-", 0) == 0 && e.path().extension() == ".png") fs::remove(e.path());
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
  // The grid's images, or nothing when `stop` turns true between sampler steps: a grid takes
  // minutes on a CPU device, and a stop request must not wait for it.
  std::optional<std::vector<float>> render(const std::vector<float>& ema, uint64_t seed,
                                           const std::function<bool()>& stop) {
    weights_.upload_flat(ema);
    std::vector<uint32_t> labels(rows_ * kColumns);
    std::vector<uint64_t> seeds(labels.size());
    for (size_t i = 0; i < labels.size(); ++i) {
      labels[i] = info_.config.num_classes > 0 ? uint32_t(i / kColumns) : 0;
      seeds[i] = seed + i % kColumns;  // the same noise in every row: only the class differs
    }
    sampler_->start({seeds, labels});
    while (!stop())
      if (!sampler_->step()) return sampler_->image();
    return std::nullopt;
  }
  // A row per class; a material model shows each sample's maps side by side.
  void save(const fs::path& path, const std::vector<float>& images) const {
    const auto& maps = info_.config.maps;
    const int per_sample = static_cast<int>(maps.size());
    save_image_grid(path, maps_side_by_side(images, rows_ * kColumns, res_, res_, maps), rows_ * kColumns * per_sample,
                    res_, res_, kColumns * per_sample);
  }

 private:
  static constexpr int kColumns = 4;
  ModelInfo info_;
  int res_, rows_;
  ParameterSet weights_;
  std::unique_ptr<Sampler> sampler_;
};

// Class names go into the model file as JSON text, which must be UTF-8: checked before any
// training, rather than failing at the first save.
void check_class_names(const std::vector<std::string>& classes, const fs::path& data) {
  std::string bad;
  for (const std::string& c : classes)
    if (first_invalid_utf8(c) != std::string_view::npos)
      bad += (bad.empty() ? "'" : ", '") + escape_invalid_utf8(c) + "'";
  if (!bad.empty())
    throw Error("class folder names in '" + escape_invalid_utf8(data.string()) + "' are not valid UTF-8: " + bad +
                " (invalid bytes shown as \\xNN). Class names are stored in the model as text: rename the "
                "folders, or train with --unconditional");
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + escape_invalid_utf8(n, 64);
  return out;
}

// --init-from: the new run's weights, EMA included, start from a trained model's (its EMA
// weights); the optimiser moments start at zero, as in any new run.
void start_from_model(Context& ctx, TrainingStep& trainer, ModelInfo& info, const fs::path& path) {
  LoadedModel source = load_model(ctx, path);
  TrainingStep::State state = trainer.save_state();
  WarmStartReport r = warm_start(trainer.params(), info, state.weights, *source.params, source.info);
  state.ema = state.weights;
  trainer.load_state(state);
  info.provenance["init_from"] = escape_invalid_utf8(fs::absolute(path).string(), 4096);
  std::fprintf(stderr, "--init-from %s: %d parameters copied, %d in part (shared maps/classes), %zu new%s%s\n",
               path.string().c_str(), r.copied, r.partial, r.fresh.size(), r.fresh.empty() ? "" : ": ",
               joined(r.fresh).c_str());
}

}  // namespace

int train_main(const std::vector<std::string>& argv) {
  std::set<std::string> options{"data",      "out",      "sample-every", "sample-steps", "checkpoint-every",
                                "log-every", "init-from"},
      flags{"resume", "force", "help"};
  for (const RecordedOption& r : recorded_options()) (r.flag ? flags : options).insert(r.name);
  Args a(argv, options, flags);
  if (a.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!a.has("data")) {
    std::fputs(kUsage, stderr);
    throw Error("--data is required");
  }
  const bool resume = a.has("resume");
  if (resume && a.has("force"))
    throw Error("--resume continues the run in --out and --force replaces it: give one of them");
  if (resume && a.has("init-from"))
    throw Error("--init-from starts a new run from a trained model; --resume continues from the checkpoint");
  // Before any other thread exists (the Vulkan driver's), so that they all leave the signals to it.
  StopSignals signals("tessera train",
                      "finishing this step, then saving a checkpoint and exiting (signal again to stop at once, "
                      "without saving)",
                      "stopping at once, without saving");

  const RunFiles files(a.str("out", "train-out"));
  // Options are read before anything is written, so that a mistyped one leaves nothing behind.
  const int64_t sample_every = a.integer("sample-every", 500, 0, INT64_MAX);
  const int sample_steps = static_cast<int>(a.integer("sample-steps", 25, 1, 1000));
  const int64_t checkpoint_every = a.integer("checkpoint-every", 500, 1, INT64_MAX);
  const int64_t log_every = a.integer("log-every", 10, 1, INT64_MAX);
  ModelInfo info;
  Checkpoint resumed;
  Options opt;
  std::optional<FolderLock> lock;
  auto lock_out = [&] { lock.emplace(files.out, ".tessera-train.lock", "tessera train"); };
  if (resume) {
    if (!fs::exists(files.checkpoint)) throw Error("--resume: no checkpoint at '" + files.checkpoint.string() + "'");
    lock_out();  // before reading the checkpoint, which another run could be replacing
    resumed = load_checkpoint(files.checkpoint);
    info = resumed.info;
    Options recorded = Options::from_checkpoint(resumed, files.checkpoint);
    opt = read_options(a, recorded);
    check_resumed_options(recorded, opt, resumed.step);
  } else {
    opt = read_options(a, Options::new_run());
    fs::create_directories(files.out);
    lock_out();
    if (std::vector<std::string> earlier = files.earlier_run(); !earlier.empty()) {
      if (!a.has("force"))
        throw Error("'" + files.out.string() + "' holds an earlier run (" + joined(earlier) +
                    "); a new run would destroy it. " +
                    (fs::exists(files.checkpoint) ? "Continue it with --resume, replace it with --force"
                                                  : "It has no checkpoint to resume: replace it with --force") +
                    ", or choose another --out");
      files.remove_earlier_run();
      std::fprintf(stderr, "--force: removed the earlier run in '%s' (%s)\n", files.out.string().c_str(),
                   joined(earlier).c_str());
    }
  }
  fs::create_directories(files.samples);
  remove_stale_temporaries({files.out, files.samples});  // ours, from killed writes; the lock is held
  const int res = opt.model.train_resolution;

  const fs::path data_path = a.str("data", "");
  std::vector<std::string> warnings;
  Dataset data = Dataset::load(data_path, res, warnings, opt.model.maps);
  for (const auto& w : warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  if (resume) {
    if (info.config.num_classes > 0 && data.classes() != info.classes)
      throw Error("--resume: the data folder's classes (" + joined(data.classes()) +
                  ") differ from the checkpoint's (" + joined(info.classes) + ")");
  } else {
    bool conditional = !opt.unconditional && !(data.classes().size() == 1 && data.classes()[0].empty());
    if (conditional) check_class_names(data.classes(), data_path);
    info.config = opt.model;
    info.classes = conditional ? data.classes() : std::vector<std::string>{};
    info.config.num_classes = static_cast<int>(info.classes.size());
    info.config.validate();
  }
  info.provenance["trainer"] = "tessera train";
  // Provenance only: a path that is not UTF-8 is recorded with its odd bytes as \xNN.
  info.provenance["data"] = escape_invalid_utf8(fs::absolute(data_path).string(), 4096);
  info.provenance["options"] = opt.to_json().dump();

  auto ctx = Context::create();
  std::fprintf(stderr, "device: %s (%s)\n", ctx->info().name.c_str(), ctx->info().selection_reason.c_str());
  std::fprintf(stderr, "data: %zu %s in %zu classes; model %s\n", data.size(),
               opt.model.maps.size() > 1 ? "material samples" : "images", data.classes().size(),
               info.config.to_json().c_str());
  TrainingStep trainer(*ctx, info.config, opt.batch, res, opt.hp);
  std::fprintf(stderr, "parameters: %lld, activations: %.1f MiB, %.2f GFLOP per step\n",
               (long long)trainer.params().parameter_count(), trainer.unet().device_bytes() / 1048576.0,
               3 * trainer.forward_flops() / 1e9);
  if (resume) {
    trainer.load_state({resumed.step, resumed.weights, resumed.ema, resumed.adam_m, resumed.adam_v});
    std::fprintf(stderr, "resumed at step %lld\n", (long long)resumed.step);
  } else if (a.has("init-from")) {
    start_from_model(*ctx, trainer, info, a.str("init-from", ""));
  }
  LossLog log(files.loss_log, trainer.step());
  std::unique_ptr<GridWriter> grids;
  int64_t saved_step = resume ? resumed.step : -1, grid_step = -1;

  // Every file is written holding signals.writing(): a second signal waits for it rather than
  // leave a temporary file behind. What is already on disk for this step is not written again.
  auto guarded = [&](const std::function<void()>& write) {
    auto hold = signals.writing();
    write();
  };
  auto save_all = [&](bool with_grid) {
    const int64_t step = trainer.step();
    const bool state_due = step != saved_step;
    const bool grid_due = with_grid && sample_every > 0 && step != grid_step && !signals.stop_requested();
    if (!state_due && !grid_due) return;
    TrainingStep::State s = trainer.save_state();
    if (state_due) {
      Checkpoint c{info, s.step, opt.hp.seed, opt.to_json().dump(), s.weights, s.ema, s.adam_m, s.adam_v};
      info.provenance["steps"] = std::to_string(s.step);
      guarded([&] { save_checkpoint(files.checkpoint, c); });
      saved_step = step;  // all a resume needs; the model and the curve are derived from it
      guarded([&] { save_model(files.model, info, s.ema); });
      guarded([&] { plot_loss_curve(files.loss_curve, log.points()); });
    }
    if (grid_due) {
      if (!grids) grids = std::make_unique<GridWriter>(*ctx, info, res, sample_steps);
      auto images = grids->render(s.ema, opt.hp.seed, [&] { return signals.stop_requested(); });
      if (!images) {
        std::fprintf(stderr, "sample grid of step %lld abandoned\n", (long long)step);
        return;
      }
      char name[64];
      std::snprintf(name, sizeof name, "step-%07lld.png", (long long)step);
      guarded([&] { grids->save(files.samples / name, *images); });
      grid_step = step;
    }
  };
  // After a failure that ends the run: keep the training done so far, if the disk still takes it.
  auto save_after_failure = [&]() -> std::string {
    std::string problem;
    try {
      save_all(false);
    } catch (const std::exception& e) {
      problem = e.what();
    }
    if (saved_step == trainer.step())
      return "checkpoint saved to '" + files.checkpoint.string() + "' (continue with --resume once this is fixed)" +
             (problem.empty() ? "" : "; then: " + problem);
    return "the checkpoint could not be saved either (" + problem + "); " +
           (saved_step >= 0 ? "the last one on disk is of step " + std::to_string(saved_step) : "none is on disk");
  };

  bool tty = ::isatty(STDERR_FILENO);
  auto start = std::chrono::steady_clock::now();
  auto last_print = start;
  int64_t first_step = trainer.step();
  double smoothed = -1;
  std::vector<float> images;
  std::vector<uint32_t> labels;
  while (trainer.step() < opt.steps && !signals.stop_requested()) {
    data.sample_batch(opt.hp.seed, trainer.step(), opt.batch, res, images, labels);
    StepResult r = trainer.run(images, labels);
    if (!std::isfinite(r.loss))
      throw Error("training diverged: loss is " + std::to_string(r.loss) + " at step " + std::to_string(r.step));
    auto now = std::chrono::steady_clock::now();
    double elapsed = std::chrono::duration<double>(now - start).count();
    try {
      log.append(r.step, r.loss, r.grad_norm, r.lr, elapsed);
    } catch (const Error& e) {
      // A log that cannot be written (a full disk) stops the run now, not at the next checkpoint.
      if (tty) std::fputc('\n', stderr);
      throw Error(std::string(e.what()) + "; training stopped at step " + std::to_string(r.step) + ": " +
                  save_after_failure());
    }
    smoothed = smoothed < 0 ? r.loss : 0.95 * smoothed + 0.05 * r.loss;
    ProgressState p{r.step, opt.steps, smoothed, (r.step - first_step) / std::max(elapsed, 1e-9), opt.batch};
    if (tty && std::chrono::duration<double>(now - last_print).count() > 0.1) {
      std::fprintf(stderr, "\r%s", format_progress(p).c_str());
      last_print = now;
    } else if (!tty && r.step % log_every == 0) {
      std::fprintf(stderr, "%s\n", format_progress(p).c_str());
    }
    bool grid_now = sample_every > 0 && r.step % sample_every == 0;
    if (r.step % checkpoint_every == 0 || grid_now) save_all(grid_now);
  }
  if (tty) std::fputc('\n', stderr);
  // A stop request saves the checkpoint and model and exits at once: the sample grid (minutes
  // on a CPU device) is left for the finished run.
  save_all(true);
  if (int signal = signals.first_signal()) {
    if (saved_step >= 0)
      std::fprintf(stderr, "%s: stopped at step %lld; checkpoint in %s (continue with --resume)\n",
                   StopSignals::name(signal), (long long)saved_step, files.checkpoint.string().c_str());
    else
      std::fprintf(stderr, "%s: stopped before the first step; nothing saved\n", StopSignals::name(signal));
    return 128 + signal;
  }
  if (int status = validation_status(*ctx)) return status;
  std::fprintf(stderr, "done: %lld steps; model %s, loss curve %s\n", (long long)trainer.step(),
               files.model.string().c_str(), files.loss_curve.string().c_str());
  return 0;
}

}  // namespace tessera::cli
