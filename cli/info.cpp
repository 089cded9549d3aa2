// `tessera info MODEL`: what a model file (or a training checkpoint) holds - config, classes,
// size, provenance, and for a checkpoint its step, seed and trainer options.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "args.hpp"
#include "commands.hpp"
#include "tessera/error.hpp"
#include "tessera/model_file.hpp"
#include "tessera/split_file.hpp"

namespace tessera::cli {

int info_main(const std::vector<std::string>& args) {
  Args a(args, {}, {"help"}, {"MODEL"});
  if (a.has("help") || a.positional().empty()) {
    std::fprintf(a.has("help") ? stdout : stderr, "usage: tessera info MODEL.safetensors|CHECKPOINT.safetensors\n");
    return a.has("help") ? 0 : 2;
  }
  const std::filesystem::path path = a.positional()[0];
  // Checks the tensors too, without a device: a file that would not load is reported here.
  const ModelFileSummary summary = inspect_model_file(path);
  const ModelInfo& info = summary.info;

  std::printf("%s: %s (%.2f MiB)\n", summary.is_checkpoint ? "training checkpoint" : "model", path.string().c_str(),
              file_or_parts_size(path) / 1048576.0);
  if (summary.is_checkpoint) {
    std::printf("  read by `tessera train --out DIR --resume`; sample from DIR/model.safetensors\n");
    constexpr size_t kShown = 400;  // the options are the trainer's few keys; a hostile file's are cut
    const std::string& o = summary.options_json;
    std::printf("step: %lld\nseed: %llu\ntrainer options: %s%s\n", (long long)summary.step,
                (unsigned long long)summary.seed, o.substr(0, kShown).c_str(), o.size() > kShown ? "..." : "");
    std::printf("tensors: weights, ema/, adam_m/, adam_v/ (4 x %lld values)\n", (long long)summary.parameter_count);
  }
  std::printf("format version: %s\n", kModelFormatVersion);
  std::printf("parameters: %lld\n", (long long)summary.parameter_count);
  std::printf("config:\n");
  const nlohmann::json config = nlohmann::json::parse(info.config.to_json());  // items() needs a live object
  for (const auto& [k, v] : config.items())
    std::printf("  %-22s %s\n", k.c_str(), v.dump().c_str());
  std::printf("image sizes: multiples of %d%s\n", info.config.size_multiple(),
              info.config.padding == PaddingMode::Circular ? " (circular padding: textures tile seamlessly)" : "");
  if (info.classes.empty()) {
    std::printf("classes: none (unconditional)\n");
  } else {
    std::printf("classes:\n");
    for (size_t i = 0; i < info.classes.size(); ++i) std::printf("  %2zu  %s\n", i, info.classes[i].c_str());
  }
  if (!info.provenance.empty()) {
    std::printf("provenance:\n");
    for (const auto& [k, v] : info.provenance) std::printf("  %-10s %s\n", k.c_str(), v.c_str());
  }
  return 0;
}

}  // namespace tessera::cli
