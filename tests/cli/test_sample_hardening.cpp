// `tessera sample` and `tessera train` where a careless run would lose or overwrite work: output
// patterns that give two images one path, a missing output folder, a killed run (each batch is
// written as it finishes), and temporary files left by killed writes (removed at start).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/random_model.hpp"
#include "support/run_command.hpp"
#include "support/scratch_dir.hpp"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;

// A pid that no process has: a child that has exited and been reaped.
pid_t dead_pid() {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

void touch(const fs::path& path) { std::ofstream(path) << "partial"; }

class SampleHardeningTest : public ScratchSuite<SampleHardeningTest> {
 protected:
  static void SetUpTestSuite() {
    ScratchSuite::SetUpTestSuite();
    save_random_model(dir_ / "model.safetensors", 8);
  }
  static std::string sample() { return "sample --model " + at("model.safetensors") + " --steps 2"; }
};

// --class all repeats the seeds for every class: a {seed}-only pattern would write image 2 over
// image 0. Refused before the device starts, naming both images and what the pattern lacks.
TEST_F(SampleHardeningTest, PatternsThatGiveTwoImagesOnePathAreRefused) {
  CommandResult r = run_tessera(sample() + " --class all --count 2 --seed 4 --out " + at("x-{seed}.png"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("--out '" + at("x-{seed}.png") +
                          "' gives image 0 (class brick, seed 4) and image 2 (class moss, seed 4) the same path '" +
                          at("x-4.png") + "'; the pattern lacks {class}, {index}"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("device:"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "x-4.png"));

  // With {class} every image has its own file; with neither {seed} nor {index}, -{index} is added.
  r = run_tessera(sample() + " --class all --count 2 --seed 4 --out " + at("{class}-{seed}.png"));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* f : {"brick-4.png", "brick-5.png", "moss-4.png", "moss-5.png"})
    EXPECT_TRUE(fs::exists(dir_ / f)) << f;
  r = run_tessera(sample() + " --class all --out " + at("plain.png"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir_ / "plain-0.png") && fs::exists(dir_ / "plain-1.png")) << r.output;
}

TEST_F(SampleHardeningTest, AMissingOutputFolderIsReportedBeforeSampling) {
  struct Case {
    std::string out, folder;
  };
  for (const Case& c : {Case{at("missing/{seed}.png") + " --count 2", at("missing")},
                        Case{at("missing/g.png") + " --grid", at("missing")},
                        Case{at("model.safetensors/x.png"), at("model.safetensors")}}) {
    CommandResult r = run_tessera(sample() + " --out " + c.out);
    EXPECT_EQ(r.status, 1) << c.out << r.output;
    EXPECT_NE(r.output.find("--out: the folder '" + c.folder + "'"), std::string::npos) << c.out << r.output;
    EXPECT_EQ(r.output.find("device:"), std::string::npos) << "refused only after starting: " << c.out;
  }
  CommandResult r = run_tessera(sample() + " --out " + dir_.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("is a folder, not a file name"), std::string::npos) << r.output;
}

// A killed run keeps every image of the batches it finished, and memory does not grow with
// --count: image 0 is on disk (its path printed) before the last batch is sampled.
TEST_F(SampleHardeningTest, EachBatchIsWrittenWhenItFinishes) {
  CommandResult r = run_tessera(sample() + " --count 3 --batch 1 --out " + at("b-{index}.png"));
  ASSERT_EQ(r.status, 0) << r.output;
  size_t first_image = r.output.find(at("b-0.png") + "\n"), last_progress = r.output.rfind("sampling ");
  ASSERT_NE(first_image, std::string::npos) << r.output;
  ASSERT_NE(last_progress, std::string::npos) << r.output;
  EXPECT_LT(first_image, last_progress) << r.output;
  for (const char* f : {"b-0.png", "b-1.png", "b-2.png"}) EXPECT_TRUE(fs::exists(dir_ / f)) << f;
}

// Temporary files of killed writes (".NAME.tmp.PID.N", tessera/atomic_file.hpp) in the folders a
// run writes to are removed at its start and named; other files are left alone.
TEST_F(SampleHardeningTest, StaleTemporariesInOutputFoldersAreRemovedAtStart) {
  const fs::path out = dir_ / "temps";
  fs::create_directories(out / "samples");
  const std::string dead = std::to_string(dead_pid());
  const fs::path stale = out / (".t-7.png.tmp." + dead + ".0"),
                 stale_sample = out / "samples" / (".g.png.tmp." + dead + ".3");
  const fs::path live = out / (".t-7.png.tmp." + std::to_string(::getpid()) + ".1");  // this process may be writing it
  const fs::path other = out / ("t-7.png.tmp." + dead + ".0");                        // not our naming
  for (const fs::path& p : {stale, stale_sample, live, other}) touch(p);

  CommandResult r = run_tessera(sample() + " --seed 7 --out " + (out / "t-{seed}.png").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("removed " + stale.string() + ", left by an interrupted write"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(stale_sample));  // not a folder this run writes to
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(other));
  EXPECT_TRUE(fs::exists(out / "t-7.png"));

  // `tessera train` cleans its --out and --out/samples.
  const fs::path run = dir_ / "train";
  fs::create_directories(run / "samples");
  const fs::path stale_checkpoint = run / (".checkpoint.safetensors.tmp." + dead + ".0"),
                 stale_grid = run / "samples" / (".step-0000001.png.tmp." + dead + ".1");
  touch(stale_checkpoint);
  touch(stale_grid);
  r = run_tessera("train --data " + std::string(TESSERA_SOURCE_DIR) + "/tests/fixtures/textures --out " + run.string() +
                  " --steps 1 --batch 2 --res 16 --base 16 --mult 1,2 --groups 4 --attn 8 --sample-every 0");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const fs::path& p : {stale_checkpoint, stale_grid}) {
    EXPECT_FALSE(fs::exists(p)) << p;
    EXPECT_NE(r.output.find("removed " + p.string()), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace tessera::testing
