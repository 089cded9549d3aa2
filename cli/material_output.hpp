// What `tessera sample` writes for a model's maps (SPEC §12). An RGB model writes one PNG per
// image at its --out path, as always. A material model writes, per image, <stem>_<map>.png for
// each chosen map: albedo (RGB 8-bit), height (grey 16-bit), roughness (grey 8-bit) and the
// normal map derived from the height on the device (RGB 8-bit, n * 0.5 + 0.5), and a grid shows
// each image's maps side by side. Its inputs (img2img, inpainting) are the albedo and,
// optionally, the other maps as files.
#pragma once
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "args.hpp"
#include "tessera/derived_normals.hpp"
#include "tessera/image_io.hpp"
#include "tessera/unet_config.hpp"

namespace tessera::cli {

class MaterialOutput {
 public:
  // Reads --maps, --normal-strength and --normal-convention; throws Error naming the option.
  MaterialOutput(const Args& a, const UNetConfig& config);

  bool material() const { return material_; }  // files per map, not one PNG per image
  bool normals() const { return normals_; }
  const NormalOptions& normal_options() const { return normal_options_; }
  int maps_shown() const { return static_cast<int>(chosen_.size()) + (normals_ ? 1 : 0); }

  // The files image `path` becomes.
  std::vector<std::filesystem::path> files(const std::filesystem::path& path) const;
  // Writes one image: `planes` [C, H, W] of the model's channels, `normal` [3, H, W] (when
  // normals()); prints each path.
  void write(const std::filesystem::path& path, std::span<const float> planes, std::span<const float> normal, int width,
             int height) const;
  // The chosen maps of one image as RGB planes [maps_shown(), 3, H, W], for a grid.
  std::vector<float> display(std::span<const float> planes, std::span<const float> normal, int width, int height) const;

  // The model's input image [C, H, W] from --init (the albedo) and --init-height /
  // --init-roughness; a map not given starts at mid-grey (0), which img2img re-generates at a
  // high --strength. Sizes must agree. Inpainting keeps every channel of the kept pixels, so it
  // needs every map.
  Image init_image(const Args& a, bool inpainting) const;

 private:
  std::vector<MapKind> model_maps_;
  std::vector<MapKind> chosen_;
  bool material_ = false, normals_ = false;
  NormalOptions normal_options_;
};

}  // namespace tessera::cli
