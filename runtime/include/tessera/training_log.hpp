// What a training run reports: a live progress line, a CSV of the loss, and a loss-curve PNG.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tessera {

struct ProgressState {
  int64_t step = 0, total = 0;
  double loss = 0;           // smoothed
  double steps_per_second = 0;
  int batch = 0;
};

// "step  120/5000 [####------]  2.4%  loss 0.0513  4.9 step/s  39.4 img/s  ETA 0:16:35"
std::string format_progress(const ProgressState& s, int bar_width = 24);
// "1:02:03" (h:mm:ss); "--:--" when unknown.
std::string format_duration(double seconds);

// loss.csv with columns step,loss,grad_norm,lr,seconds. Opening for a resumed run keeps only
// the rows up to `resume_step` so the log matches the checkpoint exactly (rewritten
// atomically); a new run (resume_step 0) starts the file afresh. Every row is written to the
// file as it is appended, and a failed write (a full disk) throws tessera::Error naming the
// file and the reason at once, leaving no partial row.
class LossLog {
 public:
  static constexpr const char* kHeader = "step,loss,grad_norm,lr,seconds\n";

  LossLog(const std::filesystem::path& path, int64_t resume_step);
  ~LossLog();
  LossLog(const LossLog&) = delete;
  LossLog& operator=(const LossLog&) = delete;
  void append(int64_t step, double loss, double grad_norm, double lr, double seconds);
  const std::vector<std::pair<int64_t, double>>& points() const { return points_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  off_t size_ = 0;  // bytes of whole rows written
  std::vector<std::pair<int64_t, double>> points_;
};

// Loss curve PNG: raw losses as dots, their exponential moving average as a line, log-scale y,
// axis labels. Written atomically.
void plot_loss_curve(const std::filesystem::path& path, const std::vector<std::pair<int64_t, double>>& points,
                     int width = 640, int height = 360);

}  // namespace tessera
