// `tessera train` and `tessera info` as a user runs them: the built binary, real files.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/run_command.hpp"
#include "support/scratch_dir.hpp"

namespace tessera {
namespace {

namespace fs = std::filesystem;

const std::string kTessera = std::string(TESSERA_BINARY_DIR) + "/tessera";
const std::string kData = std::string(TESSERA_SOURCE_DIR) + "/tests/fixtures/textures";
const std::string kModel =
    " --batch 4 --res 16 --base 16 --mult 1,2 --groups 4 --attn 8 --sample-every 0 --checkpoint-every 100";

using testing::CommandResult;
using testing::run_tessera;
using testing::ScratchTest;

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

class TrainCliTest : public ScratchTest {};

TEST_F(TrainCliTest, ResumeContinuesBitIdentically) {
  std::string a = (dir_ / "a").string(), b = (dir_ / "b").string();
  ASSERT_EQ(run_tessera("train --data " + kData + " --out " + a + " --steps 8" + kModel).status, 0);
  ASSERT_EQ(run_tessera("train --data " + kData + " --out " + b + " --steps 4" + kModel).status, 0);
  CommandResult resumed = run_tessera("train --data " + kData + " --out " + b + " --resume --steps 8 --sample-every 0");
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed at step 4"), std::string::npos) << resumed.output;
  EXPECT_EQ(slurp(dir_ / "a" / "checkpoint.safetensors"), slurp(dir_ / "b" / "checkpoint.safetensors"));
  for (const char* f : {"model.safetensors", "loss.csv", "loss.png"}) EXPECT_TRUE(fs::exists(dir_ / "b" / f)) << f;
  CommandResult info = run_tessera("info " + (dir_ / "b" / "model.safetensors").string());
  EXPECT_EQ(info.status, 0);
  EXPECT_NE(info.output.find("1  rock"), std::string::npos) << info.output;
}

TEST_F(TrainCliTest, CtrlCSavesACheckpointAndExits) {
  std::string out = (dir_ / "c").string();
  pid_t pid = fork();
  if (pid == 0) {
    std::string cmd = kTessera + " train --data " + kData + " --out " + out + " --steps 100000" + kModel +
                      " > /dev/null 2>&1";
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), (char*)nullptr);
    _exit(127);
  }
  // Wait until training is under way (the loss log has rows), then interrupt.
  for (int i = 0; i < 600; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (fs::exists(fs::path(out) / "loss.csv") && slurp(fs::path(out) / "loss.csv").find("\n3,") != std::string::npos)
      break;
  }
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_TRUE(fs::exists(fs::path(out) / "checkpoint.safetensors"));
  CommandResult resumed = run_tessera("train --data " + kData + " --out " + out + " --resume --steps 1 --sample-every 0");
  EXPECT_EQ(resumed.status, 0) << resumed.output;  // a valid checkpoint (already past step 1)
}

TEST_F(TrainCliTest, BadInputGetsClearErrors) {
  CommandResult r = run_tessera("train --data /no/such/folder");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("is not a folder"), std::string::npos) << r.output;
  r = run_tessera("train --data " + kData + " --steps -5");
  EXPECT_NE(r.output.find("--steps must be an integer"), std::string::npos) << r.output;
  r = run_tessera("train --data " + kData + " --resume --out " + (dir_ / "none").string());
  EXPECT_NE(r.output.find("no checkpoint"), std::string::npos) << r.output;
  std::ofstream(dir_ / "junk.safetensors") << "definitely not a model";
  r = run_tessera("info " + (dir_ / "junk.safetensors").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("junk.safetensors"), std::string::npos) << r.output;
  r = run_tessera("frobnicate");
  EXPECT_EQ(r.status, 2);
}

}  // namespace
}  // namespace tessera

namespace tessera {
namespace {

TEST(BenchCliTest, TrainBenchReportsRatesAndPhases) {
  std::string config =
      R"('{"base_channels": 8, "channel_mult": [1, 2], "num_res_blocks": 1, "attention_resolutions": [], "num_heads": 1, "norm_groups": 4, "num_classes": 0, "train_resolution": 8}')";
  CommandResult r = run_tessera("bench train --no-torch --steps 1 --batch 2 --res 8 --config " + config);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("ms/step"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("sustains"), std::string::npos) << r.output;
  r = run_tessera("bench train --no-torch --profile --steps 1 --batch 2 --res 8 --config " + config);
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* expected : {"op family", "conv forward", "conv data gradient", "conv weight gradient", "optimizer",
                               "backward / conv2d", "conv + matmul kernels inside the step"})
    EXPECT_NE(r.output.find(expected), std::string::npos) << "missing '" << expected << "' in:\n" << r.output;
}

TEST(BenchCliTest, SampleBenchTimesEverySizeAndRejectsABadOne) {
  std::string config =
      R"('{"base_channels": 8, "channel_mult": [1, 2], "num_res_blocks": 1, "attention_resolutions": [8], "num_heads": 1, "norm_groups": 4, "num_classes": 2, "train_resolution": 8}')";
  CommandResult r = run_tessera("bench sample --no-torch --iters 1 --steps 3 --res 8,16 --config " + config);
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* expected : {"8x8", "16x16", "of conv", "skipped (--no-torch)"})
    EXPECT_NE(r.output.find(expected), std::string::npos) << "missing '" << expected << "' in:\n" << r.output;
  r = run_tessera("bench sample --no-torch --iters 1 --res 9 --config " + config);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("not a multiple of 2"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace tessera
