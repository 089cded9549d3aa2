// `tessera hash`: the portable-mode hashes of generated images (docs/portable-hashes.md), to
// check a device against the table tests/portable/hashes.txt that lavapipe and the test oracle
// agree on (tools/gpu/check.sh runs `tessera hash --table`).
#include <climits>
#include <cmath>
#include <cstdio>
#include <map>

#include "app_support.hpp"
#include "args.hpp"
#include "commands.hpp"
#include "generation_options.hpp"
#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/model_file.hpp"
#include "tessera/output_hash.hpp"
#include "tessera/sampler.hpp"

namespace tessera::cli {

namespace fs = std::filesystem;

namespace {

const char* kUsage =
    "usage: tessera hash --table FILE [--models DIR] [--fast]\n"
    "       tessera hash [--model FILE] [--class C] [--seed N] [--size WxH] [--sampler S] [--steps N]\n"
    "                    [--guidance W] [--fast]\n"
    "Generates images in portable mode (docs/portable.md: the same bits on every conformant Vulkan\n"
    "device) and prints one row per image (docs/portable-hashes.md):\n"
    "  model class seed WxH sampler steps guidance f32_hash pixels_hash\n"
    "both FNV-1a 64: f32 of the result's float bits (little-endian, [C, H, W]), pixels of the\n"
    "samples its PNGs hold (a material model's maps in turn; not the derived normals).\n"
    "  --table FILE    generate every row of FILE (e.g. tests/portable/hashes.txt) and compare: each\n"
    "                  printed row ends with 'ok' or 'MISMATCH'; exit status 1 if any row differs\n"
    "  --models DIR    where the table's model files are (default: the bundled models folder)\n"
    "  --fast          fast mode instead of portable (its hashes are device-specific; for showing\n"
    "                  that the table tells the modes apart)\n"
    "single image (without --table): --model (default the bundled model), --class (default 0),\n"
    "  --seed (0), --size (the training size), --sampler (dpmpp2m), --steps (25), --guidance (1)\n";

// The request a row names, checked against its model. A value the runtime refuses is named as
// the option (single image) or with the table's row.
GenerationRequest checked_request(const HashRow& row, const ModelInfo& model, bool from_table) {
  try {
    return hash_case_request(row.generation, model);
  } catch (const Error& e) {
    throw Error(from_table ? "table row '" + format_hash_row(row) + "': " + e.what() : "--" + std::string(e.what()));
  }
}

}  // namespace

int hash_main(const std::vector<std::string>& argv) {
  Args a(argv, {"table", "models", "model", "class", "seed", "size", "sampler", "steps", "guidance"}, {"fast", "help"});
  if (a.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::optional<fs::path> bundled = app::bundled_model_path(TESSERA_SOURCE_DIR_FOR_CLI);
  std::vector<HashRow> table;
  fs::path models_dir;
  if (a.has("table")) {
    for (const char* single : {"model", "class", "seed", "size", "sampler", "steps", "guidance"})
      if (a.has(single)) throw Error("--" + std::string(single) + " names a single image; --table gives every row");
    table = read_hash_table(a.str("table", ""));
    if (a.has("models"))
      models_dir = a.str("models", "");
    else if (bundled)
      models_dir = bundled->parent_path();
    else
      throw Error("no --models folder given and no bundled models folder found next to the executable");
  } else {
    if (a.has("models")) throw Error("--models goes with --table");
    std::optional<fs::path> model = a.has("model") ? std::optional(fs::path(a.str("model", ""))) : bundled;
    if (!model) throw Error("no --model given and no bundled model found next to the executable");
    const UNetConfig config = read_model_info(*model).config;
    HashCase g;
    models_dir = model->parent_path();
    g.model = model->filename().string();
    g.class_name = a.str("class", "0");
    g.seed = static_cast<uint64_t>(a.integer("seed", 0, 0, INT64_MAX));
    g.width = g.height = config.train_resolution;
    if (auto size = size_option(a)) std::tie(g.width, g.height) = *size;
    g.sampler = sampler_option(a);
    g.steps = static_cast<int>(a.integer("steps", 25, 1, INT_MAX));
    g.guidance = a.number("guidance", 1.0, -HUGE_VAL, HUGE_VAL);
    table.push_back({g, 0, 0});
  }

  // Every row is checked (its model file read, its values validated) before the device starts.
  std::map<std::string, ModelInfo> infos;
  for (const HashRow& row : table) {
    const HashCase& g = row.generation;
    if (!infos.count(g.model)) infos.emplace(g.model, read_model_info(models_dir / g.model));
    checked_request(row, infos.at(g.model), a.has("table"));
  }

  ContextOptions options;
  options.portable = !a.has("fast");
  auto ctx = Context::create(options);
  std::fprintf(stderr, "device: %s (%s), %s mode\n", ctx->info().name.c_str(), ctx->info().selection_reason.c_str(),
               ctx->portable() ? "portable" : "fast");
  std::map<std::string, LoadedModel> models;
  int mismatches = 0;
  for (const HashRow& want : table) {
    const HashCase& g = want.generation;
    auto it = models.find(g.model);
    if (it == models.end()) it = models.emplace(g.model, load_model(*ctx, models_dir / g.model)).first;
    const GenerationRequest request = checked_request(want, it->second.info, a.has("table"));
    Sampler sampler(*ctx, it->second.info.config, *it->second.params, 1, request.height, request.width,
                    request.options);
    const HashRow got = hash_image(g, sampler.sample(request.sample_request()), it->second.info.config.maps);
    std::string line = format_hash_row(got);
    if (a.has("table")) {
      const bool same = got.f32 == want.f32 && got.pixels == want.pixels;
      mismatches += same ? 0 : 1;
      line += same ? "  ok" : "  MISMATCH (table: " + hash_hex(want.f32) + " " + hash_hex(want.pixels) + ")";
    }
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
  if (int status = validation_status(*ctx)) return status;
  if (mismatches) std::fprintf(stderr, "%d of %zu rows differ from the table\n", mismatches, table.size());
  return mismatches ? 1 : 0;
}

}  // namespace tessera::cli
