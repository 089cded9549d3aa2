#include "tessera/training_log.hpp"

#include <fcntl.h>
#include <stb/stb_easy_font.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <span>
#include <sstream>

#include "tessera/atomic_file.hpp"
#include "tessera/error.hpp"
#include "tessera/image_io.hpp"

namespace tessera {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  int64_t s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)(s / 3600), (long long)(s / 60 % 60), (long long)(s % 60));
  return buf;
}

std::string format_progress(const ProgressState& s, int bar_width) {
  double frac = s.total > 0 ? std::clamp(double(s.step) / s.total, 0.0, 1.0) : 0.0;
  int filled = static_cast<int>(frac * bar_width + 0.5);
  double eta = s.steps_per_second > 0 ? (s.total - s.step) / s.steps_per_second : -1;
  char buf[256];
  std::snprintf(buf, sizeof buf, "step %*lld/%lld [%s%s] %5.1f%%  loss %.4f  %.2f step/s  %.1f img/s  ETA %s",
                int(std::to_string(s.total).size()), (long long)s.step, (long long)s.total,
                std::string(filled, '#').c_str(), std::string(bar_width - filled, '-').c_str(), 100 * frac, s.loss,
                s.steps_per_second, s.steps_per_second * s.batch, format_duration(eta).c_str());
  return buf;
}

LossLog::LossLog(const std::filesystem::path& path, int64_t resume_step) : path_(path) {
  std::string kept = kHeader;
  if (resume_step > 0) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == 's') continue;  // header
      long long step = 0;
      double loss = 0;
      if (std::sscanf(line.c_str(), "%lld,%lf", &step, &loss) != 2 || step > resume_step) continue;
      kept += line + "\n";
      points_.push_back({step, loss});
    }
  }
  write_file_atomically(path, std::as_bytes(std::span(kept)), "loss log '" + path.string() + "'");
  fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) throw Error("cannot open loss log '" + path.string() + "': " + std::strerror(errno));
  size_ = static_cast<off_t>(kept.size());
}

LossLog::~LossLog() {
  if (fd_ >= 0) ::close(fd_);
}

void LossLog::append(int64_t step, double loss, double grad_norm, double lr, double seconds) {
  char row[160];
  int n = std::snprintf(row, sizeof row, "%lld,%.6g,%.6g,%.6g,%.3f\n", (long long)step, loss, grad_norm, lr, seconds);
  for (int done = 0; done < n;) {
    ssize_t w = ::write(fd_, row + done, size_t(n - done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int err = w < 0 ? errno : ENOSPC;
      // Drop a partial row; best effort, the write error is what gets reported.
      [[maybe_unused]] int truncated = ::ftruncate(fd_, size_);
      throw Error("cannot append to loss log '" + path_.string() + "': " + std::strerror(err));
    }
    done += int(w);
  }
  size_ += n;
  points_.push_back({step, loss});
}

namespace {

struct Canvas {
  int w, h;
  std::vector<uint8_t> px;
  Canvas(int w_, int h_) : w(w_), h(h_), px(size_t(w_) * h_ * 4, 255) {}
  void set(int x, int y, uint8_t r, uint8_t g, uint8_t b) {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    uint8_t* p = &px[(size_t(y) * w + x) * 4];
    p[0] = r, p[1] = g, p[2] = b, p[3] = 255;
  }
  void line(double x0, double y0, double x1, double y1, uint8_t r, uint8_t g, uint8_t b) {
    int n = int(std::max(std::abs(x1 - x0), std::abs(y1 - y0))) + 1;
    for (int i = 0; i <= n; ++i) {
      double t = double(i) / n;
      set(int(x0 + t * (x1 - x0) + 0.5), int(y0 + t * (y1 - y0) + 0.5), r, g, b);
    }
  }
  // stb_easy_font emits quads (4 vertices of x, y, z, color); fill each axis-aligned quad.
  void text(int x, int y, const std::string& s) {
    static char buffer[40000];
    int quads = stb_easy_font_print(float(x), float(y), const_cast<char*>(s.c_str()), nullptr, buffer, sizeof buffer);
    for (int q = 0; q < quads; ++q) {
      const float* v = reinterpret_cast<const float*>(buffer + q * 64);
      for (int yy = int(v[1]); yy < int(v[9]); ++yy)
        for (int xx = int(v[0]); xx < int(v[4]); ++xx) set(xx, yy, 40, 40, 40);
    }
  }
};

}  // namespace

void plot_loss_curve(const std::filesystem::path& path, const std::vector<std::pair<int64_t, double>>& points,
                     int width, int height) {
  Canvas c(width, height);
  const int left = 60, right = 15, top = 20, bottom = 35;
  double x_max = points.empty() ? 1 : std::max<double>(1, double(points.back().first));
  double lo = 1e30, hi = -1e30;
  for (auto& [s, l] : points)
    if (l > 0 && std::isfinite(l)) lo = std::min(lo, l), hi = std::max(hi, l);
  if (lo > hi) lo = 0.01, hi = 1;
  double ly0 = std::floor(std::log10(lo)), ly1 = std::ceil(std::log10(hi));
  if (ly1 <= ly0) ly1 = ly0 + 1;
  auto px = [&](double step) { return left + (width - left - right) * step / x_max; };
  auto py = [&](double loss) {
    return top + (height - top - bottom) * (ly1 - std::log10(std::max(loss, 1e-30))) / (ly1 - ly0);
  };
  c.line(left, top, left, height - bottom, 0, 0, 0);
  c.line(left, height - bottom, width - right, height - bottom, 0, 0, 0);
  for (double d = ly0; d <= ly1; d += 1) {  // decades
    double y = py(std::pow(10.0, d));
    c.line(left - 4, y, width - right, y, 225, 225, 225);
    char label[32];
    std::snprintf(label, sizeof label, "1e%d", int(d));
    c.text(8, int(y) - 3, label);
  }
  for (int i = 0; i <= 4; ++i) {
    double s = x_max * i / 4;
    c.line(px(s), height - bottom, px(s), height - bottom + 4, 0, 0, 0);
    c.text(int(px(s)) - 10, height - bottom + 8, std::to_string(int64_t(s + 0.5)));
  }
  c.text(width / 2 - 30, height - 14, "training step");
  c.text(left + 5, 5, "loss (dots) and its moving average (line), log scale");
  double ema = points.empty() ? 0 : points.front().second;
  double prev_x = 0, prev_y = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    auto [s, l] = points[i];
    if (!(l > 0) || !std::isfinite(l)) continue;
    c.set(int(px(s)), int(py(l)), 150, 170, 230);
    ema = i == 0 ? l : 0.98 * ema + 0.02 * l;
    double x = px(s), y = py(ema);
    if (i > 0) c.line(prev_x, prev_y, x, y, 200, 40, 40);
    prev_x = x, prev_y = y;
  }
  save_png(path, c.px, width, height);
}

}  // namespace tessera
