// `tessera sample --portable` and `tessera bench sample --portable` (docs/portable.md).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "support/run_command.hpp"
#include "support/scratch_dir.hpp"
#include "tessera/image_io.hpp"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;

TEST(SamplePortableCli, PortableModeIsAnOptionOfSampleAndBenchSample) {
  const fs::path dir = fresh_scratch_dir("portable-cli");
  CommandResult r =
      run_tessera("sample --portable --class 1 --seed 3 --steps 2 --size 16x16 --out " + (dir / "p.png").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(", portable mode"), std::string::npos) << r.output;
  EXPECT_EQ(load_image(dir / "p.png").width, 16);
  r = run_tessera("sample --help");
  EXPECT_NE(r.output.find("--portable"), std::string::npos) << r.output;
  r = run_tessera("bench sample --portable --res 16 --steps 2 --iters 1 --no-torch");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("portable mode"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tessera::testing
