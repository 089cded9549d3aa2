#include "tessera/dataset.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

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

std::vector<fs::path> sorted_entries(const fs::path& dir, bool directories) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (directories ? e.is_directory() : (e.is_regular_file() && is_image_file(e.path()))) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
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

Dataset Dataset::load(const fs::path& root, int min_size, std::vector<std::string>& warnings) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw Error("training data '" + root.string() + "' is not a folder");
  Dataset d;
  std::vector<std::pair<std::string, std::vector<fs::path>>> groups;
  for (const fs::path& sub : sorted_entries(root, true)) groups.push_back({sub.filename().string(), sorted_entries(sub, false)});
  if (groups.empty()) groups.push_back({"", sorted_entries(root, false)});
  for (auto& [name, files] : groups) {
    if (files.empty() && !name.empty()) {
      // A folder without any image file (e.g. LICENSES/) is not a class.
      warnings.push_back("ignored folder '" + (root / name).string() + "': no PNG/JPEG files");
      continue;
    }
    uint32_t label = static_cast<uint32_t>(d.classes_.size());
    size_t loaded = 0;
    for (const fs::path& f : files) {
      try {
        Image img = load_image(f);
        if (img.width < min_size || img.height < min_size) {
          double s = double(min_size) / std::min(img.width, img.height);
          img = resize_bilinear(img, std::max(min_size, int(std::ceil(img.width * s))),
                                std::max(min_size, int(std::ceil(img.height * s))));
        }
        d.images_.push_back({std::move(img), label});
        ++loaded;
      } catch (const Error& e) {
        warnings.push_back(std::string("skipped: ") + e.what());
      }
    }
    if (loaded == 0)
      throw Error(name.empty() ? "training data '" + root.string() + "' holds no readable PNG/JPEG image"
                               : "class folder '" + (root / name).string() + "' holds no readable PNG/JPEG image");
    d.classes_.push_back(name);
  }
  if (d.classes_.empty()) throw Error("training data '" + root.string() + "' holds no PNG/JPEG image");
  return d;
}

size_t Dataset::class_count(uint32_t label) const {
  return static_cast<size_t>(std::count_if(images_.begin(), images_.end(), [&](const Item& i) { return i.label == label; }));
}

void Dataset::sample_batch(uint64_t seed, int64_t step, int n, int res, std::vector<float>& images,
                           std::vector<uint32_t>& labels) const {
  images.assign(size_t(n) * 3 * res * res, 0.0f);
  labels.assign(n, 0);
  for (int i = 0; i < n; ++i) {
    uint64_t base = (static_cast<uint64_t>(step) * n + i) * 8;
    auto u = [&](int k) { return rng::uniform(seed, kDataStream, base + k); };
    const Item& item = images_[std::min(images_.size() - 1, size_t(u(0) * images_.size()))];
    const Image& img = item.image;
    labels[i] = item.label;
    int ox = std::min(img.width - res, int(u(1) * (img.width - res + 1)));
    int oy = std::min(img.height - res, int(u(2) * (img.height - res + 1)));
    bool flip_x = u(3) < 0.5f, flip_y = u(4) < 0.5f, rotate = u(5) < 0.5f;
    float* out = images.data() + size_t(i) * 3 * res * res;
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < res; ++y)
        for (int x = 0; x < res; ++x) {
          int sx = rotate ? y : x, sy = rotate ? res - 1 - x : y;  // 90 degrees, then flips
          if (flip_x) sx = res - 1 - sx;
          if (flip_y) sy = res - 1 - sy;
          out[(size_t(c) * res + y) * res + x] =
              img.planes[(size_t(c) * img.height + oy + sy) * img.width + ox + sx];
        }
  }
}

}  // namespace tessera
