// `tessera bench`: placeholder until the conv/GEMM benchmark lands (issue 2); says so plainly.
#include <cstdio>

#include "commands.hpp"

namespace tessera::cli {

int bench_main(const std::vector<std::string>&) {
  std::fprintf(stderr, "tessera bench: no benchmarks are built yet\n");
  return 2;
}

}  // namespace tessera::cli
