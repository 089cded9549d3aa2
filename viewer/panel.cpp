#include "panel.hpp"

#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <random>

#include "material_preview.hpp"
#include "texture_renderer.hpp"

namespace tessera::viewer {

namespace {

std::string megabytes(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", bytes / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

PanelActions Panel::draw(ViewerState& state, const ViewerStats& stats, const ModelSummary* model,
                         TextureRenderer& renderer, MaterialPreview& preview, const MaterialTextures& live,
                         const std::vector<std::unique_ptr<GpuTexture>>& recent) {
  PanelActions actions;
  draw_settings(state, stats, model, actions);
  draw_view(state, renderer, preview, live, recent);
  return actions;
}

void Panel::draw_settings(ViewerState& state, const ViewerStats& stats, const ModelSummary* model,
                          PanelActions& actions) {
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  ImGui::SetNextWindowPos(ImVec2(0, 0));
  ImGui::SetNextWindowSize(ImVec2(kPanelWidth, display.y));
  ImGui::Begin("Tessera", nullptr, ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse);
  ImGui::PushItemWidth(-90);
  GenerationRequest& r = state.request;
  bool changed = false;

  ImGui::TextDisabled("model");
  ImGui::InputText("file", &state.model_path);
  if (ImGui::Button("Load model")) actions.load_model = true;
  if (model) {
    ImGui::SameLine();
    ImGui::Text("%.2fM params, %dpx", model->parameter_count / 1e6, model->train_resolution);
  }

  ImGui::Separator();
  ImGui::TextDisabled("generation");
  if (model && !model->classes.empty()) {
    state.class_index = std::clamp(state.class_index, 0, int(model->classes.size()) - 1);
    if (ImGui::BeginCombo("class", model->classes[state.class_index].c_str())) {
      for (int i = 0; i < int(model->classes.size()); ++i)
        if (ImGui::Selectable(model->classes[i].c_str(), i == state.class_index)) {
          state.class_index = i;
          changed = true;
        }
      ImGui::EndCombo();
    }
  } else {
    ImGui::TextDisabled("unconditional model (no classes)");
  }
  changed |= ImGui::InputScalar("seed", ImGuiDataType_U64, &r.seed, nullptr, nullptr, "%" PRIu64);
  if (ImGui::Button("New seed")) {
    static std::mt19937_64 random{std::random_device{}()};
    r.seed = random() % 1000000;
    changed = true;
  }
  changed |= ImGui::Combo("sampler", &state.sampler_index, kSamplerNames, IM_ARRAYSIZE(kSamplerNames));
  changed |= ImGui::SliderInt("steps", &r.steps, 1, 200);
  float guidance = float(r.guidance), eta = float(r.eta), strength = float(r.strength);
  const bool conditional = model && !model->classes.empty();
  ImGui::BeginDisabled(!conditional);
  if (ImGui::SliderFloat("guidance", &guidance, 0.0f, 10.0f, "%.2f")) r.guidance = guidance, changed = true;
  ImGui::EndDisabled();
  ImGui::BeginDisabled(state.sampler_index != 1);
  if (ImGui::SliderFloat("eta (DDIM)", &eta, 0.0f, 1.0f, "%.2f")) r.eta = eta, changed = true;
  ImGui::EndDisabled();
  int size[2] = {r.width, r.height};
  if (ImGui::InputInt2("size", size, ImGuiInputTextFlags_EnterReturnsTrue)) {
    r.width = std::clamp(size[0], 8, 4096);
    r.height = std::clamp(size[1], 8, 4096);
    changed = true;
  }
  changed |= ImGui::Checkbox("img2img", &state.use_init);
  ImGui::BeginDisabled(!state.use_init);
  changed |= ImGui::InputText("input", &r.init_image, ImGuiInputTextFlags_EnterReturnsTrue);
  if (ImGui::SliderFloat("strength", &strength, 0.0f, 1.0f, "%.2f")) r.strength = strength, changed = true;
  ImGui::EndDisabled();
  ImGui::SliderFloat("budget ms", &state.budget_ms, 1.0f, 200.0f, "%.1f", ImGuiSliderFlags_Logarithmic);
  if (ImGui::Button("Generate", ImVec2(-1, 0))) changed = true;
  actions.generate = changed;

  ImGui::Separator();
  ImGui::TextDisabled("progress");
  const GenerationProgress& p = stats.progress;
  char overlay[64];
  std::snprintf(overlay, sizeof overlay, "%d / %d steps%s", p.steps_done, p.steps_total, p.done ? " - done" : "");
  ImGui::ProgressBar(p.steps_total ? float(p.steps_done) / p.steps_total : 0.0f, ImVec2(-1, 0), overlay);
  ImGui::Text("GPU %.2f ms/step   %.1f steps/s", p.last_step_gpu_ms, stats.steps_per_second);
  ImGui::Text("frame %.1f ms   texture %dx%d", stats.frame_ms, p.width, p.height);
  ImGui::Text("Tessera memory %s", megabytes(stats.tessera_bytes).c_str());
  if (stats.heap_budget)
    ImGui::Text("device heap %s / %s", megabytes(stats.heap_usage).c_str(), megabytes(stats.heap_budget).c_str());
  ImGui::TextWrapped("%s", stats.device.c_str());

  ImGui::Separator();
  ImGui::InputText("png", &state.save_path);
  if (ImGui::Button("Save PNG", ImVec2(-1, 0))) actions.save_png = true;
  if (!state.status.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text,
                          state.status_is_error ? ImVec4(1.0f, 0.45f, 0.4f, 1) : ImVec4(0.6f, 0.9f, 0.6f, 1));
    ImGui::TextWrapped("%s", state.status.c_str());
    ImGui::PopStyleColor();
  }
  ImGui::PopItemWidth();
  ImGui::End();
}

void Panel::draw_view(ViewerState& state, TextureRenderer& renderer, MaterialPreview& preview,
                      const MaterialTextures& live, const std::vector<std::unique_ptr<GpuTexture>>& recent) {
  const ImVec2 display = ImGui::GetIO().DisplaySize;
  ImGui::SetNextWindowPos(ImVec2(kPanelWidth, 0));
  ImGui::SetNextWindowSize(ImVec2(std::max(1.0f, display.x - kPanelWidth), display.y));
  ImGui::Begin("Texture", nullptr, ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse);
  ImGui::RadioButton("1x1", &state.tiles, 1);
  ImGui::SameLine();
  ImGui::RadioButton("3x3", &state.tiles, 3);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(160);
  ImGui::SliderFloat("zoom", &state.zoom, 0.25f, 32.0f, "%.2fx", ImGuiSliderFlags_Logarithmic);
  ImGui::SameLine();
  if (ImGui::Button("Reset view")) state.zoom = 1.0f, state.pan[0] = state.pan[1] = 0.0f;
  ImGui::SameLine();
  if (ImGui::Button("Live")) state.shown = -1;
  // The map selector: only what the live material has (an albedo-only one shows no choice).
  if (!view_offered(state.view, live.available)) state.view = int(MapKind::Albedo);
  if (live.available != 1u << int(MapKind::Albedo)) {
    ImGui::TextDisabled("map");
    const ImGuiStyle& style = ImGui::GetStyle();
    const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
    for (int v = 0; v <= kLitView; ++v) {
      if (!view_offered(v, live.available)) continue;
      // Wrap rather than clip in a narrow window: a radio button is its box, a gap and its label.
      const float width = ImGui::GetFrameHeight() + style.ItemInnerSpacing.x + ImGui::CalcTextSize(kViewNames[v]).x;
      if (ImGui::GetItemRectMax().x + style.ItemSpacing.x + width <= right) ImGui::SameLine();
      if (ImGui::RadioButton(kViewNames[v], state.view == v)) state.view = v, state.shown = -1;
    }
  }

  const float thumb = 64.0f;
  const float row = recent.empty() ? 0.0f : thumb + ImGui::GetStyle().ItemSpacing.y + ImGui::GetFrameHeight();
  ImVec2 canvas_min = ImGui::GetCursorScreenPos();
  ImVec2 avail = ImGui::GetContentRegionAvail();
  ImVec2 canvas_size(std::max(avail.x, 16.0f), std::max(avail.y - row, 16.0f));
  ImGui::InvisibleButton("canvas", canvas_size);
  ImVec2 canvas_max(canvas_min.x + canvas_size.x, canvas_min.y + canvas_size.y);
  // Zoom around the cursor with the wheel, pan by dragging.
  if (ImGui::IsItemHovered()) {
    float wheel = ImGui::GetIO().MouseWheel;
    if (wheel != 0.0f) {
      float factor = wheel > 0 ? 1.25f : 0.8f, old_zoom = state.zoom;
      state.zoom = std::clamp(state.zoom * factor, 0.25f, 32.0f);
      ImVec2 mouse = ImGui::GetIO().MousePos;
      float cx = canvas_min.x + canvas_size.x / 2 + state.pan[0], cy = canvas_min.y + canvas_size.y / 2 + state.pan[1];
      float k = state.zoom / old_zoom;
      state.pan[0] += (mouse.x - cx) * (1 - k);
      state.pan[1] += (mouse.y - cy) * (1 - k);
    }
  }
  if (ImGui::IsItemActive() && ImGui::IsMouseDragging(ImGuiMouseButton_Left)) {
    state.pan[0] += ImGui::GetIO().MouseDelta.x;
    state.pan[1] += ImGui::GetIO().MouseDelta.y;
  }

  if (state.shown >= int(recent.size())) state.shown = -1;
  const bool lit = state.shown < 0 && state.view == kLitView;
  const GpuTexture& shown = state.shown >= 0 ? *recent[state.shown]
                            : lit            ? live.map(MapKind::Albedo)
                                             : live.map(MapKind(state.view));
  ImDrawList* list = ImGui::GetWindowDrawList();
  list->AddRectFilled(canvas_min, canvas_max, IM_COL32(24, 24, 28, 255));
  if (lit) {
    // A square scene, fitted like the texture, zoomed and panned the same way - within limits,
    // since the square is the pipeline's viewport (bounded by maxViewportDimensions).
    float side = std::min(canvas_size.x, canvas_size.y) * std::min(state.zoom, 4.0f);
    float x = std::clamp(canvas_min.x + (canvas_size.x - side) / 2 + state.pan[0], canvas_min.x - side, canvas_max.x);
    float y = std::clamp(canvas_min.y + (canvas_size.y - side) / 2 + state.pan[1], canvas_min.y - side, canvas_max.y);
    ImGui::PushClipRect(canvas_min, canvas_max, true);
    preview.draw(live.map(MapKind::Albedo), live.map(MapKind::Normal), live.map(MapKind::Roughness), ImVec2(x, y),
                 ImVec2(x + side, y + side), state.light_radians);
    ImGui::PopClipRect();
    layout_.content[0] = x, layout_.content[1] = y, layout_.content[2] = side, layout_.content[3] = side;
  } else if (shown.drawable()) {
    // At zoom 1 the tiled texture fits the canvas, keeping the texture's aspect ratio.
    float tw = float(shown.width() * state.tiles), th = float(shown.height() * state.tiles);
    float fit = std::min(canvas_size.x / tw, canvas_size.y / th) * state.zoom;
    float w = tw * fit, h = th * fit;
    float x = canvas_min.x + (canvas_size.x - w) / 2 + state.pan[0];
    float y = canvas_min.y + (canvas_size.y - h) / 2 + state.pan[1];
    ImGui::PushClipRect(canvas_min, canvas_max, true);
    renderer.draw(shown, ImVec2(x, y), ImVec2(x + w, y + h), ImVec2(0, 0),
                  ImVec2(float(state.tiles), float(state.tiles)));
    ImGui::PopClipRect();
    layout_.content[0] = x, layout_.content[1] = y, layout_.content[2] = w, layout_.content[3] = h;
  }
  layout_.canvas[0] = canvas_min.x, layout_.canvas[1] = canvas_min.y;
  layout_.canvas[2] = canvas_size.x, layout_.canvas[3] = canvas_size.y;

  if (!recent.empty()) {
    ImGui::TextDisabled("recent results (click to show)");
    for (int i = int(recent.size()) - 1; i >= 0; --i) {
      ImGui::PushID(i);
      ImVec2 pos = ImGui::GetCursorScreenPos();
      if (ImGui::InvisibleButton("thumb", ImVec2(thumb, thumb))) state.shown = i;
      renderer.draw(*recent[i], pos, ImVec2(pos.x + thumb, pos.y + thumb), ImVec2(0, 0), ImVec2(1, 1));
      if (i == state.shown)
        ImGui::GetWindowDrawList()->AddRect(pos, ImVec2(pos.x + thumb, pos.y + thumb), IM_COL32(255, 200, 60, 255));
      ImGui::PopID();
      if (i > 0) ImGui::SameLine();
    }
  }
  ImGui::End();
}

}  // namespace tessera::viewer
