// Pieces every `tessera bench` family shares: locating and running tools/bench_torch.py (the
// PyTorch CPU reference, timed in the same run), the date/load header, and the conv kernel
// rate that whole-model steps are compared against (SPEC §10).
#pragma once
#include <map>
#include <string>

#include "tessera/context.hpp"
#include "tessera/unet_config.hpp"

namespace tessera::cli {

struct TorchTiming {
  double median_ms = 0, min_ms = 0;
};
struct TorchRun {
  std::string status;  // "torch 1.13.1, 2 threads", or why there are no numbers
  std::map<std::string, TorchTiming> results;  // by RESULT id
};

// `override` when given, else tools/bench_torch.py in the working directory or above the executable.
std::string find_bench_torch_script(const std::string& override);
// Runs "/usr/bin/python3 SCRIPT ARGS" and parses its TORCH / TORCH_UNAVAILABLE / RESULT lines.
TorchRun run_bench_torch(const std::string& script, const std::string& args);

std::string bench_date();     // "YYYY-MM-DD HH:MM:SS UTC"
std::string load_average();   // /proc/loadavg: other work on the machine skews wall-clock rates

// Median ms of a 3x3 conv forward [batch, c, res, res] -> c with the model's padding: the
// dominant kernel of a U-Net, whose rate whole-model steps are measured against.
double conv_reference_ms(Context& ctx, int batch, int c, int res, const UNetConfig& config, int iters);

}  // namespace tessera::cli
