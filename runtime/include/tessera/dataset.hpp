// Training data: a folder whose sub-folders are classes (sorted names -> labels 0..K-1),
// holding PNG/JPEG files; sub-folders without image files (LICENSES/) are ignored with a
// warning. A folder with images and no such sub-folders is one unnamed class; images loose
// next to class folders are not used, and a warning names them. Entries that cannot be
// examined (a symbolic-link loop, a dangling link, no permission) are skipped with a warning.
// Every image is decoded once and held as decoded (8 or 16 bits per channel, see PixelImage;
// crops are converted to floats as they are drawn); images smaller than the training
// resolution are upscaled (bilinear, preserving aspect) when loaded and held as floats.
// Unreadable files are skipped and named.
//
// Material sets (SPEC §12): a model whose maps are more than albedo trains on samples stored as
// one file per map with the same stem, <stem>_<map>.png (e.g. rock/x_albedo.png, x_height.png,
// x_roughness.png). Every map the model carries must be there, in the same size, and a
// 16-bit map (height) must be stored in 16 bits; anything else is an error naming the files.
// Files of maps the model does not carry are ignored (an RGB model trains on the albedo of a
// material set); files without a map suffix are ignored with a warning. Crops, flips and
// rotations are drawn once per sample and applied to all its maps alike.
//
// Batches are a pure function of (seed, step): sample i of step s draws eight uniforms
// rng::uniform(seed, kDataStream, (s * N + i) * 8 + k): k=0 picks the image, k=1,2 the crop
// origin, k=3 a horizontal flip, k=4 a vertical flip, k=5 a 90-degree rotation (textures have
// no "up"). A resumed run therefore sees exactly the batches it would have seen.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tessera/image_io.hpp"
#include "tessera/material_maps.hpp"

namespace tessera {

inline constexpr uint32_t kDataStream = 4;

class Dataset {
 public:
  // Throws tessera::Error when the folder is missing, holds no readable image, or a class
  // folder has none (naming each of its files' problems). `warnings` receives one line per
  // skipped file or entry and per ignored folder or loose image set.
  static Dataset load(const std::filesystem::path& root, int min_size, std::vector<std::string>& warnings,
                      const std::vector<MapKind>& maps = {MapKind::Albedo});

  const std::vector<std::string>& classes() const { return classes_; }
  size_t size() const { return images_.size(); }
  size_t class_count(uint32_t label) const;
  size_t pixel_bytes() const;  // memory the images hold

  int channels() const { return static_cast<int>(channel_source_.size()); }

  // images: [n, channels(), res, res] planar floats in [-1, 1]; labels: [n].
  void sample_batch(uint64_t seed, int64_t step, int n, int resolution, std::vector<float>& images,
                    std::vector<uint32_t>& labels) const;

 private:
  struct Layer {        // one map of a sample
    PixelImage pixels;  // as decoded; empty when upscaled
    Image upscaled;     // float planes of an image smaller than the training resolution
    int width() const { return pixels.samples ? pixels.width : upscaled.width; }
    int height() const { return pixels.samples ? pixels.height : upscaled.height; }
    float value(int c, int y, int x) const {
      return pixels.samples ? pixels.value(c, y, x)
                            : upscaled.planes[(size_t(c) * upscaled.height + y) * upscaled.width + x];
    }
  };
  struct Item {
    std::vector<Layer> layers;  // one per map, in the model's map order
    uint32_t label;
  };
  std::vector<std::string> classes_;
  std::vector<Item> images_;
  std::vector<std::pair<int, int>> channel_source_;  // model channel -> (layer, channel of its file)
};

// Bilinear resize of a planar RGB image (used to upscale small training images).
Image resize_bilinear(const Image& src, int width, int height);

}  // namespace tessera
