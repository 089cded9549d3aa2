// `tessera sample`: generates textures with a trained model (SPEC §4): DDPM, DDIM or
// DPM-Solver++(2M), classifier-free guidance, img2img (--init, --strength) and inpainting
// (--mask: white = generate, black = keep the init image's pixel). Image i of a run uses seed
// --seed + i, so any image can be regenerated alone; same seed, same device: same bytes.
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "app_support.hpp"
#include "args.hpp"
#include "commands.hpp"
#include "generation_options.hpp"
#include "material_output.hpp"
#include "stale_temporaries.hpp"
#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/image_io.hpp"
#include "tessera/model_file.hpp"
#include "tessera/sampler.hpp"

namespace tessera::cli {

namespace fs = std::filesystem;

namespace {

const char* kUsage =
    "usage: tessera sample [options]\n"
    "  --model FILE          model (default: the bundled models/default.safetensors)\n"
    "  --class NAME|INDEX|all  class to generate (class-conditional models; default 0);\n"
    "                        all: --count images of every class, the same seeds for each\n"
    "  --seed N --count N    image i uses seed N+i (default 0, 1)\n"
    "  --size WxH            output size, a multiple of the model's factor (default: training size)\n"
    "  --sampler ddpm|ddim|dpmpp2m  (default dpmpp2m)   --steps N (default 25)\n"
    "  --guidance W          classifier-free guidance weight, 1 = off (default 1)\n"
    "  --eta E               DDIM noise, 0..1 (default 0); only with --sampler ddim\n"
    "  --variance beta|beta_tilde  DDPM noise variance (default beta_tilde); only with --sampler ddpm\n"
    "  --no-clip             do not clamp the x0 estimate to [-1, 1]\n"
    "  --portable            portable mode: the same bytes on every conformant Vulkan device\n"
    "                        (docs/portable.md); slower, see docs/PERF.md\n"
    "  --init IMG --strength S   img2img: noise IMG to strength S (0..1) and denoise\n"
    "  --mask IMG            inpainting: white = generate, black = keep --init's pixel\n"
    "material models (maps albedo, height, roughness; SPEC §12): each image is written as\n"
    "  <stem>_albedo.png (RGB), _height.png (16-bit grey), _roughness.png (grey) and _normal.png\n"
    "  (derived from the height on the device; tangent space, n * 0.5 + 0.5)\n"
    "  --maps albedo,height,roughness,normal   the maps to write (default: all it gives)\n"
    "  --normal-strength S   height range in texels for the normals (default 3)\n"
    "  --normal-convention opengl|directx   +Y up (default) or +Y down\n"
    "  --init IMG is the albedo; --init-height IMG (16-bit) and --init-roughness IMG give the\n"
    "  other maps (img2img starts a map not given at mid-grey; inpainting needs them all)\n"
    "  --out PATTERN.png     output path; {seed}, {index} (0, 1, ... in the run) and {class}\n"
    "                        are replaced (default {class}-{seed}.png); a pattern with neither\n"
    "                        {seed} nor {index} gets -{index} before the extension when the run\n"
    "                        writes several images. A pattern that gives two images one path is\n"
    "                        refused, as is a folder that does not exist, before sampling starts\n"
    "  --grid                write all images as one grid PNG at --out (with --class all:\n"
    "                        one row per class; a material's maps side by side), when the\n"
    "                        last image is done\n"
    "  --batch N             images generated together (default min(count, 4)); each batch's\n"
    "                        images are written as soon as it finishes\n"
    "Temporary files that interrupted writes left in the output folders are removed at start.\n";

// The runtime's refusal of a value, naming this command's option: its messages start with the
// field's name ("guidance 101 is outside [0, 100]" becomes "--guidance 101 ...").
void validate_as_options(const GenerationRequest& request, const ModelInfo& info) {
  try {
    request.validate(info);
  } catch (const Error& e) {
    throw Error("--" + std::string(e.what()));
  }
}

std::string replace_all(std::string s, const std::string& key, const std::string& value) {
  for (size_t p = s.find(key); p != std::string::npos; p = s.find(key, p + value.size())) s.replace(p, key.size(), value);
  return s;
}

bool has_placeholder(const std::string& pattern, const char* placeholder) {
  return pattern.find(placeholder) != std::string::npos;
}

fs::path output_path(std::string pattern, int count, int index, uint64_t seed, const std::string& class_name) {
  if (count > 1 && !has_placeholder(pattern, "{seed}") && !has_placeholder(pattern, "{index}")) {
    fs::path p(pattern);  // several images need several names
    pattern = (p.parent_path() / (p.stem().string() + "-{index}" + p.extension().string())).string();
  }
  pattern = replace_all(pattern, "{seed}", std::to_string(seed));
  pattern = replace_all(pattern, "{index}", std::to_string(index));
  return replace_all(pattern, "{class}", class_name);
}

// What an output path must be before sampling starts: a file name in a folder that exists,
// not a folder itself.
void check_output_path(const fs::path& path) {
  std::error_code ec;
  fs::path folder = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  if (!fs::is_directory(folder, ec))
    throw Error("--out: the folder " + shown(folder.string()) + " of " + shown(path.string()) +
                (fs::exists(folder, ec) ? " is not a folder" : " does not exist"));
  if (!path.has_filename() || fs::is_directory(path, ec))
    throw Error("--out: " + shown(path.string()) + " is a folder, not a file name");
}

// The path of every image of the run, image i at paths[i]; refuses a pattern that gives two
// images one path (one would silently replace the other), naming the placeholders it lacks.
std::vector<fs::path> output_paths(const std::string& pattern, const std::vector<uint64_t>& seeds,
                                   const std::vector<std::string>& class_names) {
  std::vector<fs::path> paths;
  std::map<fs::path, size_t> first_user;
  for (size_t i = 0; i < seeds.size(); ++i) {
    paths.push_back(
        output_path(pattern, static_cast<int>(seeds.size()), static_cast<int>(i), seeds[i], class_names[i]));
    auto [it, unique] = first_user.emplace(paths.back().lexically_normal(), i);
    if (unique) continue;
    std::string missing;
    for (const char* placeholder : {"{class}", "{seed}", "{index}"})
      if (!has_placeholder(pattern, placeholder)) missing += std::string(missing.empty() ? "" : ", ") + placeholder;
    auto describe = [&](size_t k) {
      return "image " + std::to_string(k) + " (class " + class_names[k] + ", seed " + std::to_string(seeds[k]) + ")";
    };
    throw Error("--out " + shown(pattern) + " gives " + describe(it->second) + " and " + describe(i) +
                " the same path " + shown(paths.back().string()) + "; the pattern lacks " + missing);
  }
  for (const fs::path& path : paths) check_output_path(path);
  return paths;
}

// Inpainting mask from a grayscale/colour image: luminance 1 (white) = generate, 0 = keep.
std::vector<float> keep_from_mask(const Image& mask) {
  size_t plane = static_cast<size_t>(mask.width) * mask.height;
  std::vector<float> keep(plane);
  for (size_t i = 0; i < plane; ++i) {
    double lum = (0.2126 * mask.planes[i] + 0.7152 * mask.planes[plane + i] + 0.0722 * mask.planes[2 * plane + i] + 1) / 2;
    keep[i] = float(std::clamp(1.0 - lum, 0.0, 1.0));
  }
  return keep;
}

void print_progress(int done, int total, double seconds_per_step, bool tty) {
  int width = 24, filled = total ? done * width / total : width;
  double eta = seconds_per_step * (total - done);
  std::fprintf(stderr, "%ssampling %5d/%d [%s%s] %6.3f s/step  ETA %d:%02d%s", tty ? "\r" : "", done, total,
               std::string(filled, '#').c_str(), std::string(width - filled, '-').c_str(), seconds_per_step,
               int(eta) / 60, int(eta) % 60, tty ? "" : "\n");
}

}  // namespace

int sample_main(const std::vector<std::string>& argv) {
  Args a(argv,
         {"model", "class", "seed", "count", "size", "sampler", "steps", "guidance", "eta", "variance", "init",
          "strength", "mask", "out", "batch", "maps", "normal-strength", "normal-convention", "init-height",
          "init-roughness"},
         {"grid", "no-clip", "portable", "help"});
  if (a.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  // The options in the runtime's request; GenerationRequest::validate checks their values.
  GenerationRequest request;
  SamplerOptions& o = request.options;
  o.kind = sampler_option(a);
  const std::string sampler_name = a.str("sampler", "dpmpp2m");
  // Options the chosen sampler has no use for are refused as given, whatever their value.
  if (a.has("eta") && o.kind != SamplerKind::Ddim)
    throw Error("--eta is the ddim sampler's noise; this run's sampler is " + sampler_name + " (add --sampler ddim)");
  if (a.has("variance") && o.kind != SamplerKind::Ddpm)
    throw Error("--variance is the ddpm sampler's noise variance; this run's sampler is " + sampler_name +
                " (add --sampler ddpm)");
  o.steps = static_cast<int>(a.integer("steps", o.steps, INT_MIN, INT_MAX));
  o.guidance = a.number("guidance", o.guidance, -HUGE_VAL, HUGE_VAL);
  o.eta = a.number("eta", o.eta, -HUGE_VAL, HUGE_VAL);
  std::string variance = a.str("variance", "beta_tilde");
  if (variance != "beta" && variance != "beta_tilde") throw Error("--variance must be beta or beta_tilde");
  o.variance = variance == "beta" ? DdpmVariance::Beta : DdpmVariance::BetaTilde;
  o.clip_x0 = !a.has("no-clip");
  if (a.has("strength") && !a.has("init")) throw Error("--strength needs --init IMG");
  if (a.has("mask") && !a.has("init")) throw Error("--mask needs --init IMG (the image whose pixels are kept)");
  const int count = static_cast<int>(a.integer("count", 1, 1, 100000));
  const uint64_t seed = static_cast<uint64_t>(a.integer("seed", 0, 0, INT64_MAX));
  const int batch = static_cast<int>(a.integer("batch", std::min(count, 4), 1, 256));
  const std::string out_pattern = a.str("out", "");
  if (a.has("out") && out_pattern.empty()) throw Error("--out is empty");

  // Inputs are read and checked before the device starts: bad arguments fail fast.
  std::optional<fs::path> model_path = a.has("model") ? std::optional(fs::path(a.str("model", "")))
                                                      : app::bundled_model_path(TESSERA_SOURCE_DIR_FOR_CLI);
  if (!model_path)
    throw Error("no --model given and no bundled model found next to the executable (models/default.safetensors)");
  ModelInfo info = read_model_info(*model_path);
  const UNetConfig& config = info.config;
  const MaterialOutput output(a, config);
  // What to make: (label, seed) per image; --class all repeats the seeds for every class.
  const bool all_classes = config.num_classes > 0 && a.str("class", "") == "all";
  std::vector<uint32_t> job_labels;
  if (all_classes)
    for (int c = 0; c < config.num_classes; ++c) job_labels.insert(job_labels.end(), count, uint32_t(c));
  else
    try {
      job_labels.assign(count, resolve_class(info, a.str("class", "0")));
    } catch (const Error& e) {
      throw Error("--class: " + std::string(e.what()));
    }
  auto class_name = [&](uint32_t label) { return config.num_classes > 0 ? info.classes.at(label) : "sample"; };
  const std::string run_name = all_classes ? "all" : class_name(job_labels.front());
  const int images_total = static_cast<int>(job_labels.size());
  const bool grid = a.has("grid");
  // Where each image goes, checked before anything is sampled.
  std::vector<uint64_t> job_seeds;
  std::vector<std::string> job_class_names;
  for (int i = 0; i < images_total; ++i) {
    job_seeds.push_back(seed + uint64_t(i % count));
    job_class_names.push_back(class_name(job_labels[i]));
  }
  const fs::path grid_path = out_pattern.empty() ? fs::path(run_name + "-grid.png") : fs::path(out_pattern);
  const std::vector<fs::path> paths =
      grid ? std::vector<fs::path>{grid_path}
           : output_paths(out_pattern.empty() ? "{class}-{seed}.png" : out_pattern, job_seeds, job_class_names);
  if (grid) check_output_path(grid_path);
  Image init, mask;
  if ((a.has("init-height") || a.has("init-roughness")) && !a.has("init"))
    throw Error("--init-height and --init-roughness go with --init IMG (the albedo)");
  if (a.has("init")) {
    init = output.init_image(a, a.has("mask"));
    o.init_image = !a.has("mask");  // with a mask the init image is the known image, generated from noise
    o.mask = a.has("mask");
    o.strength = o.init_image ? a.number("strength", 0.75, -HUGE_VAL, HUGE_VAL) : 1.0;
    if (a.has("mask")) {
      if (a.has("strength")) throw Error("--strength applies to img2img; inpainting (--mask) regenerates from noise");
      mask = load_image(a.str("mask", ""));
      if (mask.width != init.width || mask.height != init.height)
        throw Error("--mask is " + std::to_string(mask.width) + "x" + std::to_string(mask.height) + " but --init is " +
                    std::to_string(init.width) + "x" + std::to_string(init.height));
    }
  }
  int width = config.train_resolution, height = config.train_resolution;
  if (auto size = size_option(a)) {
    std::tie(width, height) = *size;
  } else if (a.has("init")) {
    width = init.width, height = init.height;
  }
  if (a.has("init") && (init.width != width || init.height != height))
    throw Error("--init is " + std::to_string(init.width) + "x" + std::to_string(init.height) + " but --size is " +
                std::to_string(width) + "x" + std::to_string(height));
  request.width = width, request.height = height, request.label = job_labels.front();
  validate_as_options(request, info);

  std::set<fs::path> folders;
  for (const fs::path& path : paths) folders.insert(path.parent_path().empty() ? fs::path(".") : path.parent_path());
  remove_stale_temporaries({folders.begin(), folders.end()});

  ContextOptions context_options;
  context_options.portable = a.has("portable");
  auto ctx = Context::create(context_options);
  std::fprintf(stderr, "device: %s (%s)%s\n", ctx->info().name.c_str(), ctx->info().selection_reason.c_str(),
               ctx->portable() ? ", portable mode" : "");
  LoadedModel model = load_model(*ctx, *model_path);
  std::fprintf(stderr, "model: %s (%s, %lld parameters); %d image%s %dx%d, %s %d steps, guidance %g\n",
               model_path->string().c_str(), run_name.c_str(), (long long)model.params->parameter_count(), images_total,
               images_total == 1 ? "" : "s", width, height, to_string(o.kind).c_str(), o.steps, o.guidance);
  const int run_batch = std::min(batch, images_total);
  Sampler sampler(*ctx, config, *model.params, run_batch, height, width, o);
  std::optional<DerivedNormals> normals;
  if (output.normals()) normals.emplace(*ctx, sampler.image_tensor(), config.maps, output.normal_options());

  const bool tty = ::isatty(STDERR_FILENO);
  const int chunks = (images_total + run_batch - 1) / run_batch;
  const int total_steps = chunks * sampler.steps_total();
  const size_t per_image = static_cast<size_t>(config.channels()) * width * height;
  const size_t per_normal = size_t(3) * width * height;
  std::vector<float> grid_images;  // --grid only: the grid needs every image
  std::vector<float> keep = a.has("mask") ? keep_from_mask(mask) : std::vector<float>{};
  auto start_time = std::chrono::steady_clock::now();
  int steps_done = 0;
  for (int chunk = 0; chunk < chunks; ++chunk) {
    // The last chunk is padded with the following seeds; their images are dropped (each image
    // depends only on its own seed and label, so padding changes nothing else).
    std::vector<uint64_t> seeds(run_batch);
    std::vector<uint32_t> labels(run_batch);
    for (int i = 0; i < run_batch; ++i) {
      int job = chunk * run_batch + i;
      seeds[i] = seed + uint64_t(job % count) + (job >= images_total ? uint64_t(count) : 0);
      labels[i] = job_labels[std::min(job, images_total - 1)];
    }
    sampler.start({seeds, labels, a.has("init") ? std::span<const float>(init.planes) : std::span<const float>{}, keep});
    while (sampler.step()) {
      ++steps_done;
      double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
      // Without a terminal (logs), one line per batch.
      if (tty || sampler.done()) print_progress(steps_done, total_steps, elapsed / steps_done, tty);
    }
    if (tty && sampler.steps_total() > 0) std::fputc('\n', stderr);
    auto images = sampler.image();
    std::vector<float> normal_images;
    if (normals) {
      normals->run();
      normal_images = normals->download();
    }
    // Written now, so that a killed run keeps what it finished and memory does not grow with --count.
    for (int i = 0; i < run_batch && chunk * run_batch + i < images_total; ++i) {
      std::span<const float> planes(images.data() + per_image * i, per_image);
      std::span<const float> normal =
          normals ? std::span<const float>(normal_images.data() + per_normal * i, per_normal) : std::span<const float>{};
      if (grid) {
        std::vector<float> shown_maps = output.display(planes, normal, width, height);
        grid_images.insert(grid_images.end(), shown_maps.begin(), shown_maps.end());
        continue;
      }
      output.write(paths[chunk * run_batch + i], planes, normal, width, height);
    }
  }
  if (grid) {
    int columns = all_classes ? count : static_cast<int>(std::ceil(std::sqrt(double(count))));
    const int per = output.maps_shown();
    save_image_grid(grid_path, grid_images, images_total * per, width, height, columns * per);
    std::printf("%s\n", grid_path.string().c_str());
  }
  return validation_status(*ctx);
}

}  // namespace tessera::cli
