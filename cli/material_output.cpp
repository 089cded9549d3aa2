#include "material_output.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "tessera/error.hpp"
#include "tessera/material_images.hpp"

namespace tessera::cli {

namespace fs = std::filesystem;

namespace {

constexpr const char* kNormal = "normal";

std::string option_list(const std::vector<MapKind>& maps, bool normal) {
  return map_names(maps) + (normal ? std::string(", ") + kNormal : "");
}

// An RGB image's planes for any map: colour as it is, a scalar map as grey.
void append_rgb(std::vector<float>& out, std::span<const float> planes, int channels, size_t plane) {
  for (int c = 0; c < 3; ++c) {
    auto from = planes.begin() + (channels == 3 ? c * plane : 0);
    out.insert(out.end(), from, from + plane);
  }
}

}  // namespace

MaterialOutput::MaterialOutput(const Args& a, const UNetConfig& config) : model_maps_(config.maps) {
  const bool has_height = map_channel_offset(model_maps_, MapKind::Height) >= 0;
  material_ = model_maps_.size() > 1 || a.has("maps");
  if (!a.has("maps")) {
    chosen_ = model_maps_;
    normals_ = has_height;
  } else {
    for (const std::string& name : a.items("maps")) {
      std::optional<MapKind> kind = map_from_name(name);
      bool in_model = kind && std::find(model_maps_.begin(), model_maps_.end(), *kind) != model_maps_.end();
      if (name == kNormal && has_height)
        normals_ = true;
      else if (in_model && std::find(chosen_.begin(), chosen_.end(), *kind) == chosen_.end())
        chosen_.push_back(*kind);
      else
        throw Error("--maps: " + shown(name) + " is not a map of this model" +
                    (name == kNormal ? " (normals are derived from height, which it has not)" : "") +
                    "; it gives: " + option_list(model_maps_, has_height));
    }
    std::sort(chosen_.begin(), chosen_.end());  // the model's order, whatever order was asked
  }
  normal_options_.strength = float(a.number("normal-strength", normal_options_.strength, 0.0, 1000.0));
  const std::string convention = a.str("normal-convention", "opengl");
  if (convention != "opengl" && convention != "directx")
    throw Error("--normal-convention must be opengl (+Y up) or directx (+Y down), got " + shown(convention));
  normal_options_.convention = convention == "directx" ? ops::NormalConvention::DirectX : ops::NormalConvention::OpenGL;
  if ((a.has("normal-strength") || a.has("normal-convention")) && !normals_)
    throw Error("--normal-strength and --normal-convention shape the normal map, which this run does not write");
}

std::vector<fs::path> MaterialOutput::files(const fs::path& path) const {
  if (!material_) return {path};
  std::vector<fs::path> out;
  auto named = [&](const std::string& map) {
    return path.parent_path() / (path.stem().string() + "_" + map + path.extension().string());
  };
  for (MapKind k : chosen_) out.push_back(named(map_spec(k).name));
  if (normals_) out.push_back(named(kNormal));
  return out;
}

void MaterialOutput::write(const fs::path& path, std::span<const float> planes, std::span<const float> normal,
                           int width, int height) const {
  std::vector<fs::path> paths = files(path);
  if (!material_) {
    save_png(path, planes_to_rgba8(planes, width, height), width, height);
  } else {
    for (size_t i = 0; i < chosen_.size(); ++i)
      save_map_png(paths[i], map_planes(planes, 0, height, width, model_maps_, chosen_[i]), width, height, chosen_[i]);
    if (normals_) save_map_png(paths.back(), normal, width, height, MapKind::Albedo);  // RGB 8-bit, n * 0.5 + 0.5
  }
  for (const fs::path& p : paths) std::printf("%s\n", p.string().c_str());
  std::fflush(stdout);
}

std::vector<float> MaterialOutput::display(std::span<const float> planes, std::span<const float> normal, int width,
                                           int height) const {
  const size_t plane = size_t(width) * height;
  std::vector<float> out;
  for (MapKind k : chosen_)
    append_rgb(out, map_planes(planes, 0, height, width, model_maps_, k), map_spec(k).channels, plane);
  if (normals_) append_rgb(out, normal, 3, plane);
  return out;
}

Image MaterialOutput::init_image(const Args& a, bool inpainting) const {
  Image albedo = load_image(a.str("init", ""));
  if (model_maps_.size() == 1) {
    if (a.has("init-height") || a.has("init-roughness"))
      throw Error("--init-height and --init-roughness are inputs of a material model; this one has only albedo");
    return albedo;
  }
  const size_t plane = size_t(albedo.width) * albedo.height;
  Image out{albedo.width, albedo.height, std::vector<float>(plane * map_channels(model_maps_), 0.0f)};
  std::copy(albedo.planes.begin(), albedo.planes.end(), out.planes.begin());
  for (MapKind k : model_maps_) {
    if (k == MapKind::Albedo) continue;
    const std::string option = std::string("init-") + map_spec(k).name;
    if (!a.has(option)) {
      if (inpainting)
        throw Error("--mask keeps every map of the kept pixels: a material model's inpainting needs --" + option +
                    " too");
      continue;
    }
    const std::string file = a.str(option, "");
    PixelImage p = decode_image(file);
    if (p.width != albedo.width || p.height != albedo.height)
      throw Error("--" + option + " " + shown(file) + " is " + std::to_string(p.width) + "x" +
                  std::to_string(p.height) + " but --init is " + std::to_string(albedo.width) + "x" +
                  std::to_string(albedo.height));
    if (p.bits < map_spec(k).file_bits)
      throw Error("--" + option + " " + shown(file) + " is a " + std::to_string(p.bits) + "-bit image; " +
                  map_spec(k).name + " maps are " + std::to_string(map_spec(k).file_bits) + "-bit");
    float* dst = out.planes.data() + plane * map_channel_offset(model_maps_, k);
    for (int y = 0; y < p.height; ++y)
      for (int x = 0; x < p.width; ++x) dst[size_t(y) * p.width + x] = p.value(0, y, x);
  }
  return out;
}

}  // namespace tessera::cli
