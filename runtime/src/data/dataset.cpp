#include "tessera/dataset.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>

#include "tessera/error.hpp"
#include "tessera/rng.hpp"

namespace tessera {

namespace fs = std::filesystem;

namespace {

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

struct FolderListing {
  std::vector<fs::path> folders, images;  // sorted
};

// A folder's sub-folders and image files. An entry that cannot be examined (a symbolic-link
// loop, a dangling link, no permission) is skipped with a warning, so one bad entry does not
// stop the load.
FolderListing list_folder(const fs::path& dir, std::vector<std::string>& warnings) {
  FolderListing out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code status_error;
    fs::file_status status = it->status(status_error);  // follows symbolic links
    if (status_error || status.type() == fs::file_type::not_found) {
      // Listed but not found: a link to nothing.
      bool dangling = !status_error || status_error == std::errc::no_such_file_or_directory;
      warnings.push_back("skipped '" + it->path().string() +
                         "': " + (dangling ? "a dangling symbolic link" : status_error.message()));
    } else if (fs::is_directory(status)) {
      out.folders.push_back(it->path());
    } else if (fs::is_regular_file(status) && is_image_file(it->path())) {
      out.images.push_back(it->path());
    }
  }
  if (ec) warnings.push_back("could not read all of folder '" + dir.string() + "': " + ec.message());
  std::sort(out.folders.begin(), out.folders.end());
  std::sort(out.images.begin(), out.images.end());
  return out;
}

// "'a.png', 'b.png', 'c.png' and 4 more": messages name a few entries, not thousands.
std::string first_few(const std::vector<std::string>& items, const std::string& separator, size_t shown = 5) {
  std::string out;
  for (size_t i = 0; i < std::min(shown, items.size()); ++i) out += (i ? separator : "") + items[i];
  if (items.size() > shown) out += separator + "and " + std::to_string(items.size() - shown) + " more";
  return out;
}

}  // namespace

Image resize_bilinear(const Image& src, int width, int height) {
  Image dst;
  dst.width = width;
  dst.height = height;
  dst.planes.resize(size_t(3) * width * height);
  for (int y = 0; y < height; ++y) {
    double sy = std::clamp((y + 0.5) * src.height / height - 0.5, 0.0, double(src.height - 1));
    int y0 = int(sy), y1 = std::min(y0 + 1, src.height - 1);
    double fy = sy - y0;
    for (int x = 0; x < width; ++x) {
      double sx = std::clamp((x + 0.5) * src.width / width - 0.5, 0.0, double(src.width - 1));
      int x0 = int(sx), x1 = std::min(x0 + 1, src.width - 1);
      double fx = sx - x0;
      for (int c = 0; c < 3; ++c) {
        const float* p = src.planes.data() + size_t(c) * src.width * src.height;
        double v = (1 - fy) * ((1 - fx) * p[y0 * src.width + x0] + fx * p[y0 * src.width + x1]) +
                   fy * ((1 - fx) * p[y1 * src.width + x0] + fx * p[y1 * src.width + x1]);
        dst.planes[(size_t(c) * height + y) * width + x] = float(v);
      }
    }
  }
  return dst;
}

namespace {

// The files of one training sample: files[i] holds maps[i].
struct SampleFiles {
  std::vector<fs::path> files;
};

// "<stem>_<map>.<ext>" -> the map (nullopt: no map suffix).
std::optional<MapKind> map_suffix(const fs::path& file, std::string* stem = nullptr) {
  std::string name = file.stem().string();
  size_t cut = name.rfind('_');
  if (cut == std::string::npos) return std::nullopt;
  std::optional<MapKind> kind = map_from_name(std::string_view(name).substr(cut + 1));
  if (kind && stem) *stem = name.substr(0, cut);
  return kind;
}

// A class folder's image files as samples of `maps`. An albedo-only model takes every image
// that is not another map's file; a material model groups <stem>_<map> files by stem and needs
// every map of every stem.
std::vector<SampleFiles> group_samples(const fs::path& folder, const std::vector<fs::path>& files,
                                       const std::vector<MapKind>& maps, std::vector<std::string>& warnings) {
  std::vector<SampleFiles> out;
  size_t ignored = 0;
  if (maps == std::vector<MapKind>{MapKind::Albedo}) {
    for (const fs::path& f : files) {
      std::optional<MapKind> kind = map_suffix(f);
      if (!kind || *kind == MapKind::Albedo)
        out.push_back({{f}});
      else
        ++ignored;
    }
    if (ignored)
      warnings.push_back("ignored " + std::to_string(ignored) + " height/roughness map file(s) in '" +
                         folder.string() + "': an albedo-only model trains on the albedo files");
    return out;
  }
  std::map<std::string, SampleFiles> by_stem;
  std::vector<std::string> loose;
  for (const fs::path& f : files) {
    std::string stem;
    std::optional<MapKind> kind = map_suffix(f, &stem);
    if (!kind) {
      loose.push_back("'" + f.filename().string() + "'");
      continue;
    }
    auto slot = std::find(maps.begin(), maps.end(), *kind);
    if (slot == maps.end()) continue;  // a map this model does not carry
    SampleFiles& sample = by_stem[stem];
    sample.files.resize(maps.size());
    sample.files[slot - maps.begin()] = f;
  }
  if (!loose.empty())
    warnings.push_back("ignored " + std::to_string(loose.size()) + " image file(s) without a map suffix in '" +
                       folder.string() + "' (" + first_few(loose, ", ") + "): a material model reads <stem>_<map>.png");
  for (auto& [stem, sample] : by_stem) {
    for (size_t i = 0; i < maps.size(); ++i)
      if (sample.files[i].empty())
        throw Error("training sample '" + (folder / stem).string() + "' has no " + map_spec(maps[i]).name +
                    " map: '" + (folder / (stem + "_" + map_spec(maps[i]).name + ".png")).string() +
                    "' is missing (the model's maps are " + map_names(maps) + ")");
    out.push_back(std::move(sample));
  }
  return out;
}

}  // namespace

Dataset Dataset::load(const fs::path& root, int min_size, std::vector<std::string>& warnings,
                      const std::vector<MapKind>& maps) {
  check_map_list(maps);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw Error("training data '" + root.string() + "' is not a folder");
  Dataset d;
  for (size_t m = 0; m < maps.size(); ++m)
    for (int c = 0; c < map_spec(maps[m]).channels; ++c) d.channel_source_.push_back({int(m), c});
  FolderListing top = list_folder(root, warnings);
  std::vector<std::pair<std::string, std::vector<fs::path>>> groups;
  for (const fs::path& sub : top.folders) {
    std::vector<fs::path> files = list_folder(sub, warnings).images;
    if (files.empty())  // e.g. LICENSES/: not a class
      warnings.push_back("ignored folder '" + sub.string() + "': no PNG/JPEG files");
    else
      groups.push_back({sub.filename().string(), std::move(files)});
  }
  if (groups.empty()) {
    if (top.images.empty()) throw Error("training data '" + root.string() + "' holds no PNG/JPEG image");
    groups.push_back({"", top.images});
  } else if (!top.images.empty()) {
    std::vector<std::string> names;
    for (const fs::path& f : top.images) names.push_back("'" + f.filename().string() + "'");
    warnings.push_back("ignored " + std::to_string(names.size()) + " image file(s) in '" + root.string() +
                       "' itself (" + first_few(names, ", ") +
                       "): next to class folders, images are used only inside a class folder");
  }
  for (auto& [name, files] : groups) {
    uint32_t label = static_cast<uint32_t>(d.classes_.size());
    const fs::path folder = name.empty() ? root : root / name;
    std::vector<SampleFiles> samples = group_samples(folder, files, maps, warnings);
    std::vector<std::string> problems;
    for (const SampleFiles& sample : samples) {
      Item item{{}, label};
      try {
        for (const fs::path& f : sample.files) item.layers.push_back({decode_image(f), {}});
      } catch (const Error& e) {
        problems.push_back(e.what());
        continue;
      }
      const PixelImage& first = item.layers[0].pixels;
      for (size_t m = 0; m < maps.size(); ++m) {
        const PixelImage& p = item.layers[m].pixels;
        if (p.width != first.width || p.height != first.height)
          throw Error("the maps of training sample '" + sample.files[0].string() + "' differ in size: " +
                      std::to_string(first.width) + "x" + std::to_string(first.height) + ", but '" +
                      sample.files[m].string() + "' is " + std::to_string(p.width) + "x" + std::to_string(p.height));
        if (p.bits < map_spec(maps[m]).file_bits)
          throw Error("'" + sample.files[m].string() + "' is a " + std::to_string(p.bits) + "-bit image; " +
                      map_spec(maps[m]).name + " maps are stored in " + std::to_string(map_spec(maps[m]).file_bits) +
                      " bits (8-bit steps would show as terraces in the derived normals)");
      }
      if (first.width < min_size || first.height < min_size) {
        double s = double(min_size) / std::min(first.width, first.height);
        int w = std::max(min_size, int(std::ceil(first.width * s))), h = std::max(min_size, int(std::ceil(first.height * s)));
        for (Layer& layer : item.layers) {
          layer.upscaled = resize_bilinear(to_planes(layer.pixels), w, h);
          layer.pixels = {};
        }
      }
      d.images_.push_back(std::move(item));
    }
    if (problems.size() == samples.size()) {
      std::string where =
          name.empty() ? "training data '" + root.string() + "'" : "class folder '" + (root / name).string() + "'";
      throw Error(where + " holds no readable " + (maps.size() > 1 ? "material sample" : "PNG/JPEG image") +
                  (problems.empty() ? std::string() : ":\n  " + first_few(problems, "\n  ")));
    }
    for (const std::string& p : problems) warnings.push_back("skipped: " + p);
    d.classes_.push_back(name);
  }
  return d;
}

size_t Dataset::pixel_bytes() const {
  size_t bytes = 0;
  for (const Item& i : images_)
    for (const Layer& l : i.layers) bytes += l.pixels.samples ? l.pixels.bytes() : l.upscaled.planes.size() * sizeof(float);
  return bytes;
}

size_t Dataset::class_count(uint32_t label) const {
  return static_cast<size_t>(std::count_if(images_.begin(), images_.end(), [&](const Item& i) { return i.label == label; }));
}

void Dataset::sample_batch(uint64_t seed, int64_t step, int n, int res, std::vector<float>& images,
                           std::vector<uint32_t>& labels) const {
  const int channels = this->channels();
  images.assign(size_t(n) * channels * res * res, 0.0f);
  labels.assign(n, 0);
  for (int i = 0; i < n; ++i) {
    uint64_t base = (static_cast<uint64_t>(step) * n + i) * 8;
    auto u = [&](int k) { return rng::uniform(seed, kDataStream, base + k); };
    const Item& item = images_[std::min(images_.size() - 1, size_t(u(0) * images_.size()))];
    const int width = item.layers[0].width(), height = item.layers[0].height();
    labels[i] = item.label;
    int ox = std::min(width - res, int(u(1) * (width - res + 1)));
    int oy = std::min(height - res, int(u(2) * (height - res + 1)));
    bool flip_x = u(3) < 0.5f, flip_y = u(4) < 0.5f, rotate = u(5) < 0.5f;
    float* out = images.data() + size_t(i) * channels * res * res;
    for (int c = 0; c < channels; ++c) {
      const auto [layer, file_channel] = channel_source_[c];
      for (int y = 0; y < res; ++y)
        for (int x = 0; x < res; ++x) {
          int sx = rotate ? y : x, sy = rotate ? res - 1 - x : y;  // 90 degrees, then flips
          if (flip_x) sx = res - 1 - sx;
          if (flip_y) sy = res - 1 - sy;
          out[(size_t(c) * res + y) * res + x] = item.layers[layer].value(file_channel, oy + sy, ox + sx);
        }
    }
  }
}

}  // namespace tessera
