#include "bench_support.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "app_support.hpp"
#include "tessera/arena.hpp"
#include "tessera/command_sequence.hpp"
#include "tessera/ops/conv2d.hpp"
#include "tessera/rng.hpp"

namespace tessera::cli {

namespace fs = std::filesystem;

std::string find_bench_torch_script(const std::string& override) {
  if (!override.empty()) return override;
  std::vector<fs::path> candidates{fs::path("tools/bench_torch.py")};
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec)
    for (fs::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path())
      candidates.push_back(dir / "tools/bench_torch.py");
  for (const auto& p : candidates)
    if (fs::exists(p, ec)) return p.string();
  return "";
}

TorchRun run_bench_torch(const std::string& script, const std::string& args) {
  TorchRun run;
  if (script.empty()) {
    run.status = "unavailable: tools/bench_torch.py not found (run from the repository root)";
    return run;
  }
  const std::string python = app::reference_python();
  std::string cmd = "'" + python + "' '" + script + "' " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) {
    run.status = "unavailable: could not start " + python;
    return run;
  }
  run.status = "unavailable: bench_torch.py printed nothing";
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe)) {
    std::istringstream in(buf);
    std::string tag, rest;
    in >> tag;
    if (tag == "TORCH") {
      std::string version, threads, device;
      in >> version >> threads >> device;
      run.status = "torch " + version + ", " + threads + " threads";
      if (!device.empty() && device != "cpu") run.status += ", on " + device;  // --device cuda
    } else if (tag == "TORCH_UNAVAILABLE") {
      std::getline(in, rest);
      run.status = "unavailable:" + rest;
    } else if (tag == "RESULT") {
      std::string id;
      TorchTiming t;
      in >> id >> t.median_ms >> t.min_ms;
      run.results[id] = t;
    } else {
      std::fprintf(stderr, "bench_torch.py: %s", buf);
    }
  }
  int rc = pclose(pipe);
  if (rc != 0 && run.results.empty())
    run.status += " (bench_torch.py failed, exit status " + std::to_string(rc) + ")";
  return run;
}

std::string bench_date() {
  char date[64];
  std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
  return date;
}

std::string load_average() {
  std::string load;
  if (std::ifstream f("/proc/loadavg"); f) std::getline(f, load);
  return load.empty() ? "unknown" : load;
}

double conv_reference_ms(Context& ctx, int batch, int c, int res, const UNetConfig& config, int iters) {
  ops::Conv2dParams p{3, 1, config.padding == PaddingMode::Circular ? ops::Padding::Circular : ops::Padding::Zeros};
  Shape xs{batch, c, res, res}, ws{c, c, 3, 3};
  Arena arena(ctx, (2 * shape_numel(xs) + shape_numel(ws) + c) * 4 + 8 * Arena::kAlignment, "bench-conv");
  Tensor x = arena.allocate(xs, DType::F32, "x"), y = arena.allocate(xs, DType::F32, "y");
  Tensor w = arena.allocate(ws, DType::F32, "w"), b = arena.allocate({c}, DType::F32, "b");
  std::vector<float> v(static_cast<size_t>(x.numel()));
  rng::fill_uniform(v, 1, 1);
  upload_f32(x, v);
  v.resize(static_cast<size_t>(w.numel()));
  rng::fill_uniform(v, 2, 1);
  upload_f32(w, v);
  upload_f32(b, std::vector<float>(c, 0.0f));
  CommandSequence seq(ctx);
  ops::conv2d_forward(seq, x, w, &b, y, p);
  seq.run();  // warm-up (pipeline creation)
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    auto t = std::chrono::steady_clock::now();
    seq.run();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace tessera::cli
