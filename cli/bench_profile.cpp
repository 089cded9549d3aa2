#include "bench_profile.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

namespace tessera::cli {

namespace {
bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }
}  // namespace

std::string op_family(const std::string& kernel, const std::string& phase) {
  const bool backward = phase == "backward";
  if (starts_with(kernel, "conv2d_bwd_weight") || starts_with(kernel, "conv2d_reduce_splits"))
    return "conv weight gradient";
  if (starts_with(kernel, "conv2d_bwd_bias") || starts_with(kernel, "channel_sum") ||
      starts_with(kernel, "linear_bias_grad"))
    return "bias gradients";
  if (starts_with(kernel, "conv2d")) return backward ? "conv data gradient" : "conv forward";
  if (starts_with(kernel, "matmul")) return backward ? "matmul backward (attention, linear)" : "matmul (attention, linear)";
  if (starts_with(kernel, "attention")) return backward ? "softmax backward" : "softmax";
  if (starts_with(kernel, "groupnorm")) return backward ? "groupnorm backward" : "groupnorm";
  if (starts_with(kernel, "adamw") || starts_with(kernel, "ema") || starts_with(kernel, "grad_norm"))
    return "optimizer (grad norm, AdamW, EMA)";
  if (starts_with(kernel, "activation") || starts_with(kernel, "scale_add") || starts_with(kernel, "channel_bias") ||
      starts_with(kernel, "concat") || starts_with(kernel, "upsample"))
    return "elementwise (SiLU, add, concat, upsample)";
  if (kernel == "fill" || kernel == "copy") return "fill / copy";
  return "other (" + kernel.substr(0, kernel.find('_')) + ")";
}

void DispatchProfile::add(const std::vector<CommandSequence::DispatchTiming>& timings) {
  all_.insert(all_.end(), timings.begin(), timings.end());
  ++runs_;
}

std::vector<std::pair<std::string, DispatchProfile::Entry>> DispatchProfile::sorted(bool by_family) const {
  std::map<std::string, Entry> sums;
  for (const auto& t : all_) {
    Entry& e = sums[by_family ? op_family(t.kernel, t.phase) : t.phase + " / " + t.kernel];
    e.ms += t.ms / runs_;
    ++e.dispatches;
  }
  std::vector<std::pair<std::string, Entry>> out(sums.begin(), sums.end());
  for (auto& [name, e] : out) e.dispatches /= runs_;
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
  return out;
}

double DispatchProfile::flop_kernel_ms() const {
  double ms = 0;
  for (const auto& [name, e] : sorted(true))
    if (starts_with(name, "conv ") || starts_with(name, "matmul")) ms += e.ms;
  return ms;
}

void DispatchProfile::print(int top) const {
  if (runs_ == 0 || all_.empty()) {
    std::printf("profile: this device has no timestamps\n");
    return;
  }
  double total = 0;
  for (const auto& t : all_) total += t.ms / runs_;
  std::printf("\nprofile (a barrier and a timestamp around every dispatch; %.1f ms of GPU time per step, mean of %d):\n",
              total, runs_);
  std::printf("  %-42s %10s %6s %10s\n", "op family", "ms/step", "share", "dispatches");
  for (const auto& [name, e] : sorted(true))
    std::printf("  %-42s %10.1f %5.1f%% %10d\n", name.c_str(), e.ms, 100 * e.ms / total, e.dispatches);
  std::printf("  %-42s %10s %6s %10s\n", "slowest kernels (phase / shader)", "ms/step", "share", "dispatches");
  int shown = 0;
  for (const auto& [name, e] : sorted(false)) {
    if (shown++ == top) break;
    std::printf("  %-42s %10.1f %5.1f%% %10d\n", name.c_str(), e.ms, 100 * e.ms / total, e.dispatches);
  }
}

}  // namespace tessera::cli
