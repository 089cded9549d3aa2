// The ImGui user interface: the settings panel on the left (model, generation options, frame
// budget, statistics, save) and the texture view on the right (a map selector - albedo, height,
// roughness, normal, lit - 1x1 / 3x3 tiling, zoom, pan, a row of recent results). It edits
// ViewerState and reports what the user asked for; main.cpp does the work.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "material_set.hpp"
#include "texture_generator.hpp"

namespace tessera::viewer {

class GpuTexture;
class TextureRenderer;
class MaterialPreview;

inline constexpr const char* kSamplerNames[] = {"ddpm", "ddim", "dpmpp2m"};

// What the texture view shows of the live material: one of its maps (the MapKind values), or
// the lit preview. A view is offered when the material has it: the lit preview needs a normal
// map, so an albedo-only material (today's generations) offers albedo alone.
inline constexpr int kLitView = kMapCount;
inline constexpr const char* kViewNames[] = {"albedo", "height", "roughness", "normal", "lit"};
inline bool view_offered(int view, uint32_t available_maps) {
  const int needs = view == kLitView ? int(MapKind::Normal) : view;
  return view >= 0 && view <= kLitView && ((available_maps >> needs) & 1u);
}

// The live material's textures, one per MapKind (every one drawable: missing maps hold the
// lighting defaults of MaterialSet), and which maps it really has.
struct MaterialTextures {
  const GpuTexture* maps[kMapCount] = {};
  uint32_t available = 0;
  const GpuTexture& map(MapKind m) const { return *maps[int(m)]; }
};

struct ViewerState {
  std::string model_path;
  GenerationRequest request;
  int class_index = 0;
  int sampler_index = 2;
  bool use_init = false;
  float budget_ms = 8.0f;
  int tiles = 3;      // 1 or 3
  float zoom = 1.0f;  // 1: the tiled view fits the canvas
  float pan[2] = {0, 0};
  int shown = -1;              // -1: the live texture, else an index into the recent results (albedo)
  int view = 0;                // a MapKind or kLitView, for the live material
  float light_radians = 0.0f;  // the lit preview's light on its orbit
  std::string save_path = "texture.png";
  std::string status;  // last error or confirmation, shown in the panel
  bool status_is_error = false;
};

struct ViewerStats {
  std::string device;
  GenerationProgress progress;
  double steps_per_second = 0;
  double frame_ms = 0;
  uint64_t tessera_bytes = 0;
  uint64_t heap_usage = 0, heap_budget = 0;  // 0 where VK_EXT_memory_budget is missing
};

struct PanelActions {
  bool load_model = false;
  bool generate = false;  // settings changed or "Generate" pressed
  bool save_png = false;
};

// Where the texture view's content was drawn last frame, in window pixels (tests read this).
struct ViewLayout {
  float canvas[4] = {0, 0, 0, 0};   // x, y, w, h of the view area
  float content[4] = {0, 0, 0, 0};  // x, y, w, h of the 1x1 or 3x3 tiled texture, or of the lit preview
};

class Panel {
 public:
  static constexpr float kPanelWidth = 340.0f;
  PanelActions draw(ViewerState& state, const ViewerStats& stats, const ModelSummary* model, TextureRenderer& renderer,
                    MaterialPreview& preview, const MaterialTextures& live,
                    const std::vector<std::unique_ptr<GpuTexture>>& recent);
  const ViewLayout& layout() const { return layout_; }

 private:
  void draw_settings(ViewerState& state, const ViewerStats& stats, const ModelSummary* model, PanelActions& actions);
  void draw_view(ViewerState& state, TextureRenderer& renderer, MaterialPreview& preview, const MaterialTextures& live,
                 const std::vector<std::unique_ptr<GpuTexture>>& recent);
  ViewLayout layout_;
};

}  // namespace tessera::viewer
