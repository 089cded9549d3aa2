// Runs built binaries (`tessera`, `tessera-viewer`) as a user would, for the CLI and viewer tests.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace tessera::testing {

struct CommandResult {
  int status;          // exit code, or -1 when killed by a signal
  std::string output;  // stdout and stderr together
};

// Runs a shell command line; stdout and stderr as the caller redirects them.
inline CommandResult run_command(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {-1, "popen failed: " + cmd};
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

inline CommandResult run_tessera(const std::string& args) {
  return run_command(std::string(TESSERA_BINARY_DIR) + "/tessera " + args + " 2>&1");
}

}  // namespace tessera::testing
