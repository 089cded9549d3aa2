// Runs commands and the built `tessera` binary as a user would (CLI and host tests).
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace tessera::testing {

struct CommandResult {
  int status;          // exit code, or -1 when killed by a signal
  std::string output;  // stdout and stderr together
};

// Runs a shell command line; stdout and stderr together.
inline CommandResult run_command(const std::string& command) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed: " + command};
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

inline CommandResult run_tessera(const std::string& args) {
  return run_command(std::string(TESSERA_BINARY_DIR) + "/tessera " + args);
}

}  // namespace tessera::testing
