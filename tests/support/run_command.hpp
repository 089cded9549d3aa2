// Runs commands for the tests: shell command lines, the built binaries (`tessera`,
// `tessera-viewer`, hosts) as a user would, and the PyTorch references under tools/reference
// with Debian's /usr/bin/python3 (python3-torch).
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "../../cli/app_support.hpp"

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

using app::reference_python;  // $TESSERA_PYTHON, else /usr/bin/python3

// Where tools/reference is: $TESSERA_SOURCE_DIR (a relocated bundle, tools/gpu/bundle.sh), else the
// source tree this binary was built from.
inline std::string reference_source_dir() {
  const char* p = std::getenv("TESSERA_SOURCE_DIR");
  return p && *p ? p : TESSERA_SOURCE_DIR;
}

// Whether the reference tests can run; they GTEST_SKIP otherwise.
inline bool python_has_torch() {
  static bool ok = std::system((reference_python() + " -c 'import torch' >/dev/null 2>&1").c_str()) == 0;
  return ok;
}

// "PYTHON SOURCE/tools/reference/SCRIPT ARGS".
inline CommandResult run_python_reference(const std::string& script, const std::string& args) {
  return run_command(reference_python() + " " + reference_source_dir() + "/tools/reference/" + script + " " + args);
}

}  // namespace tessera::testing
