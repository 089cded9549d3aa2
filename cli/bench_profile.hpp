// `--profile` for the whole-model benchmarks: the GPU time of every dispatch of a recorded
// step (CommandSequence::profile_each_dispatch), summed by op family and by kernel, so
// docs/PERF.md can say where a step's time goes.
#pragma once
#include <string>
#include <vector>

#include "tessera/command_sequence.hpp"

namespace tessera::cli {

// The op family a dispatch belongs to, from its kernel name and its phase (the label of the
// mark that ends it): convolutions split into forward, data gradient and weight gradient.
std::string op_family(const std::string& kernel, const std::string& phase);

// Accumulates the dispatch timings of `runs` replays and prints two tables: per op family and
// the `top` slowest kernels (per phase), each with ms per step, share and dispatch count.
class DispatchProfile {
 public:
  void add(const std::vector<CommandSequence::DispatchTiming>& timings);
  void print(int top) const;
  // GPU ms per step of the kernels that carry a step's counted FLOPs (convolutions and matmuls;
  // not bias gradients): the rate those kernels reach inside the step is FLOPs / this.
  double flop_kernel_ms() const;

 private:
  struct Entry {
    double ms = 0;
    int dispatches = 0;
  };
  std::vector<std::pair<std::string, Entry>> sorted(bool by_family) const;
  std::vector<CommandSequence::DispatchTiming> all_;
  int runs_ = 0;
};

}  // namespace tessera::cli
