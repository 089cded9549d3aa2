// The sanitized build's leak check does not depend on which Vulkan drivers a machine has
// (cmake/Sanitizers.cmake): a library that is loaded, allocates for the life of the process and
// is unloaded again (what the Vulkan loader does with every driver it probes) stays suppressible
// by its name, and a leak from our own code still fails the process. Runs in sanitized builds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/run_command.hpp"

namespace tessera::testing {
namespace {

#if defined(TESSERA_LEAK_PROBE)
namespace fs = std::filesystem;

CommandResult run_probe(const std::string& args) {
  const fs::path supp = fs::temp_directory_path() / ("tessera-lsan-" + std::to_string(::getpid()) + ".supp");
  std::ofstream(supp) << "leak:" << fs::path(TESSERA_LEAKY_MODULE).filename().string() << "\n";
  CommandResult r = run_command("LSAN_OPTIONS=suppressions=" + supp.string() +
                                ":print_suppressions=0 ASAN_OPTIONS=detect_leaks=1 " TESSERA_LEAK_PROBE " " + args);
  fs::remove(supp);
  return r;
}

TEST(SanitizerLeakCheck, AnUnloadedLibrarysAllocationsStaySuppressibleByName) {
  // Without tessera_keep_modules_loaded the module is unmapped before the leak check, its frames
  // show as "<unknown module>", the suppression cannot match and the probe exits with 1.
  CommandResult r = run_probe(std::string("module ") + TESSERA_LEAKY_MODULE);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.find("LeakSanitizer"), std::string::npos) << r.output;
}

TEST(SanitizerLeakCheck, OurOwnLeakStillFailsTheProcess) {
  CommandResult r = run_probe("own");
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("detected memory leaks"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("leak_probe.c"), std::string::npos) << "the leak is attributed to our source\n" << r.output;
}
#else
TEST(SanitizerLeakCheck, RunsInSanitizedBuilds) { GTEST_SKIP() << "leak checks run in the TESSERA_SANITIZE build"; }
#endif

}  // namespace
}  // namespace tessera::testing
