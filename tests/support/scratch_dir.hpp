// Scratch folders for tests that write files: under the system's temp folder, named for the
// suite and the test process (ctest runs suites as separate processes, perhaps in parallel),
// emptied when made (a crashed earlier run may have left one) and removed afterwards.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace tessera::testing {

// <temp>/tessera-<label>-<pid>, empty.
inline std::filesystem::path fresh_scratch_dir(const std::string& label) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("tessera-" + label + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void remove_scratch_dir(const std::filesystem::path& dir) {
  std::error_code ignored;  // a folder a test has already removed is not a failure
  std::filesystem::remove_all(dir, ignored);
}

// A suite whose tests share one folder, dir_, made before its first test and removed after its
// last. Suite (the deriving fixture) gives each suite its own dir_. A suite that puts files
// there for all its tests defines its own SetUpTestSuite and calls this one first.
template <class Suite>
class ScratchSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fresh_scratch_dir(::testing::UnitTest::GetInstance()->current_test_suite()->name());
  }
  static void TearDownTestSuite() { remove_scratch_dir(dir_); }
  static std::string at(const std::string& name) { return (dir_ / name).string(); }
  static inline std::filesystem::path dir_;
};

// A fixture whose every test gets a fresh folder, dir_, removed after it.
class ScratchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_scratch_dir(::testing::UnitTest::GetInstance()->current_test_suite()->name());
  }
  void TearDown() override { remove_scratch_dir(dir_); }
  std::filesystem::path dir_;
};

}  // namespace tessera::testing
