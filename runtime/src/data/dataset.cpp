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

Dataset Dataset::load(const fs::path& root, int min_size, std::vector<std::string>& warnings) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw Error("training data '" + root.string() + "' is not a folder");
  Dataset d;
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
    std::vector<std::string> problems;
    for (const fs::path& f : files) {
      try {
        Item item{decode_image(f), {}, label};
        if (item.pixels.width < min_size || item.pixels.height < min_size) {
          double s = double(min_size) / std::min(item.pixels.width, item.pixels.height);
          item.upscaled =
              resize_bilinear(to_planes(item.pixels), std::max(min_size, int(std::ceil(item.pixels.width * s))),
                              std::max(min_size, int(std::ceil(item.pixels.height * s))));
          item.pixels = {};
        }
        d.images_.push_back(std::move(item));
      } catch (const Error& e) {
        problems.push_back(e.what());
      }
    }
    if (problems.size() == files.size()) {
      std::string where =
          name.empty() ? "training data '" + root.string() + "'" : "class folder '" + (root / name).string() + "'";
      throw Error(where + " holds no readable PNG/JPEG image:\n  " + first_few(problems, "\n  "));
    }
    for (const std::string& p : problems) warnings.push_back("skipped: " + p);
    d.classes_.push_back(name);
  }
  return d;
}

size_t Dataset::pixel_bytes() const {
  size_t bytes = 0;
  for (const Item& i : images_) bytes += i.pixels.samples ? i.pixels.bytes() : i.upscaled.planes.size() * sizeof(float);
  return bytes;
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
    const int width = item.width(), height = item.height();
    labels[i] = item.label;
    int ox = std::min(width - res, int(u(1) * (width - res + 1)));
    int oy = std::min(height - res, int(u(2) * (height - res + 1)));
    bool flip_x = u(3) < 0.5f, flip_y = u(4) < 0.5f, rotate = u(5) < 0.5f;
    float* out = images.data() + size_t(i) * 3 * res * res;
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < res; ++y)
        for (int x = 0; x < res; ++x) {
          int sx = rotate ? y : x, sy = rotate ? res - 1 - x : y;  // 90 degrees, then flips
          if (flip_x) sx = res - 1 - sx;
          if (flip_y) sy = res - 1 - sy;
          out[(size_t(c) * res + y) * res + x] = item.value(c, oy + sy, ox + sx);
        }
  }
}

}  // namespace tessera
