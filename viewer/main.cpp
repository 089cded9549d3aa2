// tessera-viewer: the reference engine host (SPEC §9). It owns the window, the Vulkan device
// and the swapchain, hands the device to Tessera (texture_generator.hpp), and shows a texture
// denoising live: each frame runs as many sampler steps as fit in the frame budget, uploads
// the x0 preview and draws it 1x1 or 3x3 tiled next to an ImGui panel. A material set (SPEC §12)
// is shown map by map or lit (material_preview.hpp); --material shows one from files.
//
//   tessera-viewer [--model FILE] [--class C] [--seed N] [--sampler S] [--steps N] ...
//   tessera-viewer --material DIR/STEM [--view lit]
//   tessera-viewer --frames 20 --screenshot out.png     (headless under xvfb-run, for tests)
#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_vulkan.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "../cli/app_support.hpp"
#include "material_preview.hpp"
#include "material_set.hpp"
#include "panel.hpp"
#include "screenshot.hpp"
#include "texture_generator.hpp"
#include "texture_renderer.hpp"
#include "vulkan_window.hpp"

namespace tessera::viewer {
namespace {

namespace fs = std::filesystem;

const char* kUsage =
    "usage: tessera-viewer [options]\n"
    "  --model FILE          model (default: the bundled models/default.safetensors)\n"
    "  --class NAME|INDEX    class to generate (default 0)    --seed N (default 0)\n"
    "  --sampler ddpm|ddim|dpmpp2m (default dpmpp2m)   --steps N (default 25)\n"
    "  --guidance W  --eta E  --size WxH (default 128x128, or the model's training size if\n"
    "                        larger: a first view that shows the material, see docs/architecture.md)\n"
    "  --init IMG --strength S   img2img input and strength\n"
    "  --budget MS           sampler GPU time per frame (default 8; at least one step a frame)\n"
    "  --tiles 1|3           preview tiling (default 3)      --window WxH (default 1280x800)\n"
    "  --material DIR/STEM   show a material set from files instead of generating one at start:\n"
    "                        STEM_albedo.png (required), STEM_height.png (16-bit grey),\n"
    "                        STEM_roughness.png, STEM_normal.png (OpenGL, +Y up), as written by\n"
    "                        `tessera sample`; the model still loads for Generate (optional here)\n"
    "  --view MAP            start on albedo|height|roughness|normal|lit (default albedo); the\n"
    "                        material must have that map (lit: a normal map; a generation is\n"
    "                        albedo only until the C API hands out per-map results)\n"
    "  --frames N            render N frames, then exit (the lit preview's light then moves a\n"
    "                        fixed 1/60 s per frame, so screenshots repeat)\n"
    "  --screenshot PNG      with --frames: save the last frame's window image\n"
    "  --at FRAME:KEY=VALUE  scripted input at a frame: resize=WxH, class=C, seed=N, tiles=T,\n"
    "                        zoom=Z (repeatable; for tests and demos)\n"
    "Validation layers: TESSERA_VALIDATION=1 (any message makes the exit status 3).\n";

struct Options {
  std::map<std::string, std::string> values;
  std::vector<std::pair<int, std::string>> script;  // (frame, key=value)
  bool has(const std::string& k) const { return values.count(k) > 0; }
  std::string str(const std::string& k, const std::string& fallback) const {
    auto it = values.find(k);
    return it == values.end() ? fallback : it->second;
  }
};

double parse_number(const std::string& key, const std::string& text, double lo, double hi) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(v >= lo && v <= hi))
    throw std::runtime_error("--" + key + ": expected a number in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                             "], got '" + text + "'");
  return v;
}

// WxH for --size, --window and --at resize (app_support.hpp, shared with the CLI).
void parse_size(const std::string& key, const std::string& text, int& width, int& height, int max_side) {
  auto size = app::parse_size(text, max_side);
  if (!size) throw std::runtime_error("--" + key + ": expected WxH, e.g. 128x128; got '" + text.substr(0, 64) + "'");
  std::tie(width, height) = *size;
}

Options parse_options(int argc, char** argv) {
  static const char* kValued[] = {"model",  "class",  "seed",       "sampler",  "steps",    "guidance",
                                  "eta",    "size",   "init",       "strength", "budget",   "tiles",
                                  "window", "frames", "screenshot", "at",       "material", "view"};
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      o.values["help"] = "";
      continue;
    }
    if (arg.rfind("--", 0) != 0) throw std::runtime_error("unexpected argument '" + arg + "' (see --help)");
    std::string key = arg.substr(2), value;
    if (auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else {
      bool known = false;
      for (const char* k : kValued) known |= key == k;
      if (!known) throw std::runtime_error("unknown option --" + key + " (see --help)");
      if (i + 1 >= argc) throw std::runtime_error("--" + key + " needs a value");
      value = argv[++i];
    }
    if (key == "at") {
      auto colon = value.find(':');
      if (colon == std::string::npos || value.find('=', colon) == std::string::npos)
        throw std::runtime_error("--at: expected FRAME:KEY=VALUE, got '" + value + "'");
      o.script.emplace_back(int(parse_number("at", value.substr(0, colon), 0, 1e9)), value.substr(colon + 1));
    } else {
      o.values[key] = value;
    }
  }
  return o;
}

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

void check_imgui_vk(VkResult r) {
  if (r != VK_SUCCESS) std::fprintf(stderr, "tessera-viewer: ImGui Vulkan backend: VkResult %d\n", r);
}

// What the command line sets, checked before a window opens (bad arguments fail fast).
struct StartSettings {
  ViewerState state;
  int width = 0, height = 0;  // 0: the model's training size
  std::string class_name;     // empty: the first class
  bool model_given = false;
  std::optional<MaterialSet> material;  // --material: shown instead of a first generation
  std::string material_stem;
};

// The map views the material has, for messages: "albedo, height, ..., lit".
std::string offered_views(uint32_t available_maps) {
  std::string list;
  for (int v = 0; v <= kLitView; ++v)
    if (view_offered(v, available_maps)) list += (list.empty() ? "" : ", ") + std::string(kViewNames[v]);
  return list;
}

void check_view(int view, uint32_t available_maps, const std::string& what) {
  if (!view_offered(view, available_maps))
    throw std::runtime_error(std::string("--view ") + kViewNames[view] + ": " + what + " offers only " +
                             offered_views(available_maps) + (view == kLitView ? " (lit needs a normal map)" : ""));
}

StartSettings start_settings(const Options& options) {
  StartSettings start;
  ViewerState& state = start.state;
  start.model_given = options.has("model");
  // Without a bundled model, the path it would have in the source tree: loading it then says so.
  const fs::path source_model = fs::path(TESSERA_SOURCE_DIR_FOR_VIEWER) / "models/default.safetensors";
  state.model_path = start.model_given
                         ? options.str("model", "")
                         : app::bundled_model_path(TESSERA_SOURCE_DIR_FOR_VIEWER).value_or(source_model).string();
  GenerationRequest& r = state.request;
  r.seed = uint64_t(parse_number("seed", options.str("seed", "0"), 0, 9.2e18));
  std::string sampler = options.str("sampler", "dpmpp2m");
  state.sampler_index = -1;
  for (int i = 0; i < 3; ++i)
    if (sampler == kSamplerNames[i]) state.sampler_index = i;
  if (state.sampler_index < 0)
    throw std::runtime_error("--sampler: unknown sampler '" + sampler + "' (ddpm, ddim or dpmpp2m)");
  // Any number here (steps from 1: the desc's 0 means the default): the C API refuses, at the
  // first generation, what the runtime's rule refuses.
  const double any = std::numeric_limits<double>::max();
  r.steps = int(parse_number("steps", options.str("steps", "25"), 1, INT_MAX));
  r.guidance = parse_number("guidance", options.str("guidance", "1"), -any, any);
  r.eta = parse_number("eta", options.str("eta", "0"), -any, any);
  if (options.has("size")) parse_size("size", options.str("size", ""), start.width, start.height, INT_MAX);
  if (options.has("strength") && !options.has("init")) throw std::runtime_error("--strength needs --init IMG");
  if (options.has("init")) {
    state.use_init = true;
    r.init_image = options.str("init", "");
  }
  r.strength = parse_number("strength", options.str("strength", "0.75"), -any, any);
  state.budget_ms = float(parse_number("budget", options.str("budget", "8"), 0.1, 10000));
  const std::string tiles = options.str("tiles", "3");
  if (tiles != "1" && tiles != "3") throw std::runtime_error("--tiles: expected 1 or 3, got '" + tiles + "'");
  state.tiles = tiles == "1" ? 1 : 3;
  start.class_name = options.str("class", "");
  const std::string view = options.str("view", "albedo");
  state.view = -1;
  for (int v = 0; v <= kLitView; ++v)
    if (view == kViewNames[v]) state.view = v;
  if (state.view < 0)
    throw std::runtime_error("--view: unknown view '" + view + "' (albedo, height, roughness, normal or lit)");
  if (options.has("material")) {
    start.material_stem = options.str("material", "");
    start.material = load_material_files(start.material_stem);
    check_view(state.view, start.material->available, "--material " + start.material_stem);
  }
  for (const auto& [frame, action] : options.script) {
    std::string key = action.substr(0, action.find('='));
    if (key != "resize" && key != "class" && key != "seed" && key != "tiles" && key != "zoom")
      throw std::runtime_error("--at: unknown key '" + key + "' (resize, class, seed, tiles, zoom)");
  }
  return start;
}

// The application: window, Tessera, textures, UI state.
class Viewer {
 public:
  // fixed_light_step: move the lit preview's light 1/60 s per frame (--frames runs), not by the clock.
  Viewer(const StartSettings& start, VulkanWindow& window, bool fixed_light_step)
      : window_(window),
        generator_(host_device(window)),
        renderer_(window),
        preview_(window),
        state_(start.state),
        fixed_light_step_(fixed_light_step) {
    live_ = renderer_.create_texture();
    for (auto& t : live_maps_) t = renderer_.create_texture();
    stats_.device = "device: " + generator_.device_description();
    if (start.material) {
      // Files to look at: a model is only needed for Generate, so a missing one is a status line.
      const bool model_loaded = load_model();
      show_material(*start.material);
      set_status("material " + start.material_stem + ": " + start.material->map_list() +
                     (model_loaded ? "" : "; no model for Generate: " + state_.status),
                 false);
      started_ = true;
      return;
    }
    // The starting model must load: the command line named it (or the bundled one is expected).
    load_model();
    if (!generator_.has_model())
      throw std::runtime_error(start.model_given
                                   ? state_.status
                                   : "no --model given and the bundled model is missing (" + state_.status + ")");
    if (start.width > 0) state_.request.width = start.width, state_.request.height = start.height;
    if (!start.class_name.empty()) select_class(start.class_name);
    generate();  // checks the size against the model, the init image, the class
    if (state_.status_is_error) throw std::runtime_error(state_.status);
    // The maps the model's finished job gives (a running job shows albedo, the others after it).
    check_view(state_.view, generator_.model().map_mask, "the model (" + generator_.model().path + ")");
    started_ = true;
  }

  void apply(const std::string& key_value) {
    auto eq = key_value.find('=');
    std::string key = key_value.substr(0, eq), value = key_value.substr(eq + 1);
    if (key == "resize") {
      int w = 0, h = 0;
      parse_size("at resize", value, w, h, 16384);
      window_.set_size(w, h);
    } else if (key == "class") {
      select_class(value);
      generate();
    } else if (key == "seed") {
      state_.request.seed = uint64_t(parse_number("at seed", value, 0, 9.2e18));
      generate();
    } else if (key == "tiles") {
      state_.tiles = value == "1" ? 1 : 3;
    } else if (key == "zoom") {
      state_.zoom = float(parse_number("at zoom", value, 0.25, 32));
    } else {
      throw std::runtime_error("--at: unknown key '" + key + "' (resize, class, seed, tiles, zoom)");
    }
  }

  // One frame: sampler steps within the budget, the UI, the draw. Returns false when minimised.
  bool frame(const VulkanWindow::CaptureFn& capture) {
    auto frame_start = std::chrono::steady_clock::now();
    glfwPollEvents();
    advance_generation();
    const double light_seconds = fixed_light_step_ ? 1.0 / 60.0 : stats_.frame_ms / 1000.0;
    state_.light_radians =
        std::fmod(state_.light_radians + float(light_seconds) * MaterialPreview::kOrbitRadiansPerSecond, 6.2831853f);

    ImGui_ImplVulkan_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    ImGui::NewFrame();
    PanelActions actions = panel_.draw(state_, stats_, generator_.has_model() ? &generator_.model() : nullptr,
                                       renderer_, preview_, live_material(), recent_);
    ImGui::Render();
    if (actions.load_model && load_model())
      generate();
    else if (actions.generate)
      generate();
    if (actions.save_png) save_png();

    bool drawn = window_.draw_frame(
        [&](VkCommandBuffer cmd) {
          live_->record_upload(cmd);
          for (auto& t : live_maps_) t->record_upload(cmd);
          for (auto& t : recent_) t->record_upload(cmd);
        },
        [&](VkCommandBuffer cmd) {
          renderer_.begin_render(cmd);
          preview_.begin_render(cmd);
          ImGui_ImplVulkan_RenderDrawData(ImGui::GetDrawData(), cmd);
        },
        capture);
    renderer_.end_frame();
    preview_.end_frame();
    stats_.frame_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - frame_start).count();
    return drawn;
  }

  const ViewLayout& layout() const { return panel_.layout(); }
  const GenerationProgress& progress() const { return stats_.progress; }
  // For tests: the live material's size and the view shown ("128x128 lit").
  std::string view_summary() const {
    return std::to_string(live_->width()) + "x" + std::to_string(live_->height()) + " " + kViewNames[state_.view];
  }

 private:
  static HostDevice host_device(const VulkanWindow& w) {
    HostDevice d;
    d.instance = w.instance();
    d.physical_device = w.physical_device();
    d.device = w.device();
    d.queue_family = w.queue_family();
    d.shader_float16_enabled = w.shader_float16_enabled();
    d.storage_16bit_enabled = w.storage_16bit_enabled();
    return d;
  }

  void set_status(const std::string& text, bool error) {
    state_.status = text;
    state_.status_is_error = error;
    if (error && started_) std::fprintf(stderr, "tessera-viewer: %s\n", text.c_str());  // before: thrown
  }

  bool load_model() {
    try {
      const ModelSummary& m = generator_.load_model(state_.model_path);
      GenerationRequest& r = state_.request;
      if (r.width <= 0 || r.height <= 0 || r.width % m.size_multiple || r.height % m.size_multiple)
        r.width = r.height = start_size(m);  // shown in the panel, so the size is never "0x0"
      set_status("loaded " + state_.model_path, false);
      return true;
    } catch (const std::exception& e) {
      set_status(e.what(), true);
      return false;
    }
  }

  void select_class(const std::string& wanted) { state_.class_index = int(generator_.find_class(wanted)); }

  void generate() {
    GenerationRequest r = state_.request;
    r.sampler = kSamplerNames[state_.sampler_index];
    r.class_index = uint32_t(state_.class_index);
    if (!state_.use_init) r.init_image.clear();
    try {
      generator_.submit(r);
      finished_ = false;
      state_.shown = -1;
      show_current();
      if (state_.status_is_error) set_status("", false);  // the request is good again
    } catch (const std::exception& e) {
      set_status(e.what(), true);
    }
  }

  // Live maps: a finished job shows every map its model gives (and the lit view with them). The
  // x0 preview of a running job is albedo only; its other maps hold albedo_only's neutral
  // pixels until the job is done, but stay offered, so that the chosen view is kept meanwhile.
  void show_current() {
    MaterialSet set;
    if (generator_.read_maps(set)) return show_material(set);
    std::vector<uint8_t> rgba;
    int w = 0, h = 0;
    if (!generator_.read_pixels(rgba, w, h)) return;
    set = albedo_only(rgba, w, h);
    set.available = generator_.model().map_mask;
    show_material(set);
  }

  void show_material(const MaterialSet& set) {
    live_->set_pixels(set.pixels(MapKind::Albedo), set.width, set.height);
    for (int m = 1; m < kMapCount; ++m) live_maps_[m - 1]->set_pixels(set.rgba[m], set.width, set.height);
    live_available_ = set.available;
  }

  MaterialTextures live_material() const {
    MaterialTextures t;
    t.maps[0] = live_.get();
    for (int m = 1; m < kMapCount; ++m) t.maps[m] = live_maps_[m - 1].get();
    t.available = live_available_;
    return t;
  }

  // The first size a model generates at: large enough to show the material in the 3x3 view
  // (the training size, 32 px for the bundled model, shows a few blurry blocks), a multiple of
  // the model's size factor. Steps spread over frames, so a larger size keeps the frame budget
  // and only takes more frames (docs/architecture.md "Viewer" has the numbers).
  static int start_size(const ModelSummary& m) {
    constexpr int kPreviewSize = 128;
    const int multiple = std::max(1, m.size_multiple);
    return std::max(m.train_resolution, (kPreviewSize + multiple - 1) / multiple * multiple);
  }

  void advance_generation() {
    GenerationProgress p = generator_.progress();
    if (p.active && !p.done) {
      TickReport report = generator_.tick(state_.budget_ms);
      auto now = std::chrono::steady_clock::now();
      for (int i = 0; i < report.steps_run; ++i) step_times_.push_back(now);
      p = generator_.progress();
      // (img2img at strength 0 finishes without a step.)
      if (report.steps_run > 0 || p.done) show_current();
      if (!p.failure.empty()) set_status(p.failure, true);
    }
    // Steps per second over the last second of wall time.
    auto now = std::chrono::steady_clock::now();
    while (!step_times_.empty() && now - step_times_.front() > std::chrono::seconds(1)) step_times_.pop_front();
    stats_.steps_per_second = double(step_times_.size());
    if (p.active && p.done && p.failure.empty() && !finished_) {
      finished_ = true;
      if (recent_.size() >= kRecentResults) recent_.erase(recent_.begin());
      recent_.push_back(renderer_.create_texture());
      recent_.back()->set_pixels(live_->pixels(), live_->width(), live_->height());
    }
    stats_.progress = p;
    stats_.tessera_bytes = generator_.device_memory_bytes();
    window_.memory_budget(stats_.heap_usage, stats_.heap_budget);
  }

  void save_png() {
    const GpuTexture& t = state_.shown < 0 ? *live_ : *recent_[state_.shown];
    try {
      if (t.pixels().empty()) throw std::runtime_error("nothing to save yet");
      write_png(state_.save_path, t.pixels(), t.width(), t.height());
      set_status("saved " + state_.save_path, false);
    } catch (const std::exception& e) {
      set_status(e.what(), true);
    }
  }

  static constexpr size_t kRecentResults = 8;
  VulkanWindow& window_;
  TextureGenerator generator_;
  TextureRenderer renderer_;
  MaterialPreview preview_;
  Panel panel_;
  ViewerState state_;
  ViewerStats stats_;
  std::unique_ptr<GpuTexture> live_;                      // the live material's albedo
  std::unique_ptr<GpuTexture> live_maps_[kMapCount - 1];  // its height, roughness, normal
  uint32_t live_available_ = 1u << int(MapKind::Albedo);
  bool fixed_light_step_ = false;
  std::vector<std::unique_ptr<GpuTexture>> recent_;
  std::deque<std::chrono::steady_clock::time_point> step_times_;
  bool finished_ = false;
  bool started_ = false;
};

// ImGui's context and backends for the window's device, shut down in reverse order.
class ImGuiLayer {
 public:
  explicit ImGuiLayer(VulkanWindow& window) : window_(window) {
    VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 4};
    VkDescriptorPoolCreateInfo pci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    pci.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT;
    pci.maxSets = 4;
    pci.poolSizeCount = 1;
    pci.pPoolSizes = &size;
    if (vkCreateDescriptorPool(window.device(), &pci, nullptr, &pool_) != VK_SUCCESS)
      throw std::runtime_error("vkCreateDescriptorPool for ImGui failed");
    IMGUI_CHECKVERSION();
    ImGui::CreateContext();
    ImGui::GetIO().IniFilename = nullptr;  // no imgui.ini in the working directory
    ImGui::StyleColorsDark();
    ImGui_ImplGlfw_InitForVulkan(window.glfw(), true);
    ImGui_ImplVulkan_InitInfo info{};
    info.Instance = window.instance();
    info.PhysicalDevice = window.physical_device();
    info.Device = window.device();
    info.QueueFamily = window.queue_family();
    info.Queue = window.queue();
    info.DescriptorPool = pool_;
    info.MinImageCount = window.min_image_count();
    info.ImageCount = std::max(window.image_count(), window.min_image_count());
    info.MSAASamples = VK_SAMPLE_COUNT_1_BIT;
    info.CheckVkResultFn = check_imgui_vk;
    ImGui_ImplVulkan_Init(&info, window.render_pass());
    window.run_once([](VkCommandBuffer cmd) { ImGui_ImplVulkan_CreateFontsTexture(cmd); });
    ImGui_ImplVulkan_DestroyFontUploadObjects();
  }
  ~ImGuiLayer() {
    window_.wait_idle();
    ImGui_ImplVulkan_Shutdown();
    ImGui_ImplGlfw_Shutdown();
    ImGui::DestroyContext();
    vkDestroyDescriptorPool(window_.device(), pool_, nullptr);
  }

 private:
  VulkanWindow& window_;
  VkDescriptorPool pool_ = VK_NULL_HANDLE;
};

int run(int argc, char** argv) {
  Options options = parse_options(argc, argv);
  if (options.has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const int frames = options.has("frames") ? int(parse_number("frames", options.str("frames", ""), 1, 1e9)) : 0;
  const std::string screenshot = options.str("screenshot", "");
  if (!screenshot.empty() && frames == 0) throw std::runtime_error("--screenshot needs --frames N");
  WindowOptions wo;
  if (options.has("window")) parse_size("window", options.str("window", ""), wo.width, wo.height, 16384);
  wo.validation = env_flag("TESSERA_VALIDATION");

  const StartSettings start = start_settings(options);

  VulkanWindow window(wo);
  int status = 0;
  {
    ImGuiLayer imgui(window);
    Viewer viewer(start, window, frames > 0);
    for (int frame = 0; frames == 0 || frame < frames; ++frame) {
      if (window.should_close()) break;
      for (const auto& [at, action] : options.script)
        if (at == frame) viewer.apply(action);
      const bool last = frames > 0 && frame == frames - 1;
      VulkanWindow::CaptureFn capture;
      if (last && !screenshot.empty())
        capture = [&](const std::vector<uint8_t>& rgba, uint32_t w, uint32_t h) {
          write_png(screenshot, rgba, int(w), int(h));
          const ViewLayout& l = viewer.layout();
          const GenerationProgress& p = viewer.progress();
          // For tests: where the texture view and its content were drawn, and the progress.
          std::printf(
              "screenshot %s %ux%u canvas %.0f %.0f %.0f %.0f content %.1f %.1f %.1f %.1f steps %d/%d material %s\n",
              screenshot.c_str(), w, h, l.canvas[0], l.canvas[1], l.canvas[2], l.canvas[3], l.content[0], l.content[1],
              l.content[2], l.content[3], p.steps_done, p.steps_total, viewer.view_summary().c_str());
        };
      // A minimised window draws nothing; keep waiting rather than spinning.
      if (!viewer.frame(capture)) {
        if (last && capture) throw std::runtime_error("the last frame could not be drawn (window minimised?)");
        glfwWaitEventsTimeout(0.05);
      }
    }
    window.wait_idle();
  }
  if (!window.validation_messages().empty()) {
    std::fprintf(stderr, "tessera-viewer: %zu validation message(s)\n", window.validation_messages().size());
    status = 3;
  }
  return status;
}

}  // namespace
}  // namespace tessera::viewer

int main(int argc, char** argv) {
  try {
    return tessera::viewer::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tessera-viewer: error: %s\n", e.what());
    return 1;
  }
}
