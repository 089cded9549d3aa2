// `tessera train` as a careless operator runs it (issue 12, items 14-18): an --out that holds
// a run, two runs into one folder, a resume with other options, SIGTERM/SIGHUP and a second
// signal, names that are not UTF-8, a loss log that cannot be written. The built binary, real
// files, as in test_train_cli.cpp.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/run_command.hpp"
#include "support/scratch_dir.hpp"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::run_command;
using testing::run_tessera;
using testing::ScratchTest;

const std::string kTessera = std::string(TESSERA_BINARY_DIR) + "/tessera";
const fs::path kFixtureData = fs::path(TESSERA_SOURCE_DIR) / "tests" / "fixtures" / "textures";
const std::string kModel = " --batch 4 --res 16 --base 16 --mult 1,2 --groups 4 --attn 8";

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// A `tessera` command (its arguments start with the command word) running in the background,
// its output going to a file.
class BackgroundRun {
 public:
  BackgroundRun(const std::string& args, const fs::path& output) : output_(output) {
    pid_ = fork();
    if (pid_ == 0) {
      std::string cmd = "exec " + kTessera + " " + args + " > '" + output.string() + "' 2>&1";
      execl("/bin/sh", "sh", "-c", cmd.c_str(), (char*)nullptr);
      _exit(127);
    }
  }
  ~BackgroundRun() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  // Polls (a hang detector, not a timing) until `text` is in `file`; false after 120 s.
  static bool wait_for(const fs::path& file, const std::string& text) {
    for (int i = 0; i < 1200; ++i) {
      if (slurp(file).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  int wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    return status;
  }
  // Sends `signals` once `text` is in `file` (e.g. a row of the loss log), then returns the
  // exit status; -1, with a failure, when the run did not get there or did not exit.
  int stop_after(const fs::path& file, const std::string& text, std::initializer_list<int> signals) {
    if (!wait_for(file, text)) {
      ADD_FAILURE() << "'" << text << "' never appeared in " << file << ":\n" << output();
      return -1;
    }
    for (int s : signals) kill(pid_, s);
    int status = wait();
    if (!WIFEXITED(status)) {
      ADD_FAILURE() << "killed by signal " << WTERMSIG(status) << "\n" << output();
      return -1;
    }
    return WEXITSTATUS(status);
  }
  std::string output() const { return slurp(output_); }

 private:
  fs::path output_;
  pid_t pid_ = -1;
  bool reaped_ = false;
};

class TrainHardeningTest : public ScratchTest {
 protected:
  std::string train(const std::string& args) { return "train --data " + kFixtureData.string() + " " + args; }
};

TEST_F(TrainHardeningTest, ANewRunRefusesAFolderHoldingAnEarlierRunUnlessForced) {
  const fs::path out = dir_ / "run";
  const std::string args = "--out " + out.string() + kModel + " --sample-every 0";
  ASSERT_EQ(run_tessera(train(args + " --steps 3")).status, 0);
  const std::string checkpoint = slurp(out / "checkpoint.safetensors"), log = slurp(out / "loss.csv");
  CommandResult again = run_tessera(train(args + " --steps 2"));
  EXPECT_EQ(again.status, 1);
  for (const char* expected :
       {"holds an earlier run (checkpoint.safetensors, model.safetensors, loss.csv)", "--resume", "--force"})
    EXPECT_NE(again.output.find(expected), std::string::npos) << again.output;
  EXPECT_EQ(slurp(out / "checkpoint.safetensors"), checkpoint);
  EXPECT_EQ(slurp(out / "loss.csv"), log);

  CommandResult forced = run_tessera(train(args + " --steps 2 --force"));
  ASSERT_EQ(forced.status, 0) << forced.output;
  EXPECT_NE(forced.output.find("--force: removed the earlier run"), std::string::npos) << forced.output;
  std::string fresh = slurp(out / "loss.csv");
  EXPECT_NE(fresh.find("\n2,"), std::string::npos) << fresh;
  EXPECT_EQ(fresh.find("\n3,"), std::string::npos) << "rows of the earlier run are left:\n" << fresh;
  EXPECT_EQ(run_tessera(train(args + " --resume --force")).status, 1);
}

TEST_F(TrainHardeningTest, TwoRunsIntoOneFolderCannotBothRunAndKill9LeavesNoStaleLock) {
  const fs::path out = dir_ / "run";
  const std::string args = "--out " + out.string() + kModel + " --sample-every 0 --checkpoint-every 2";
  BackgroundRun first(train(args + " --steps 100000"), dir_ / "first.txt");
  ASSERT_TRUE(BackgroundRun::wait_for(out / "loss.csv", "\n2,")) << first.output();
  ASSERT_TRUE(BackgroundRun::wait_for(out / "checkpoint.safetensors", "tessera")) << first.output();
  for (const std::string& second : {args + " --resume --steps 3", args + " --force --steps 3"}) {
    CommandResult r = run_tessera(train(second));
    EXPECT_EQ(r.status, 1) << second;
    EXPECT_NE(r.output.find("is in use by another tessera train (pid " + std::to_string(first.pid()) + ")"),
              std::string::npos)
        << r.output;
  }
  kill(first.pid(), SIGKILL);
  first.wait();
  CommandResult resumed = run_tessera(train(args + " --resume --steps 1"));
  EXPECT_EQ(resumed.status, 0) << resumed.output;
}

TEST_F(TrainHardeningTest, ResumeRefusesModelAndDataChangesAndAppliesTrainingChanges) {
  const fs::path out = dir_ / "run";
  const std::string args = "--out " + out.string() + " --sample-every 0 --resume";
  ASSERT_EQ(run_tessera(train("--out " + out.string() + kModel + " --sample-every 0 --steps 2")).status, 0);
  const std::string checkpoint = slurp(out / "checkpoint.safetensors");

  CommandResult changed = run_tessera(train(args + " --base 32 --batch 8 --prediction v --seed 3 --steps 4"));
  EXPECT_EQ(changed.status, 1);
  for (const char* expected : {"--base 16 -> 32", "--prediction eps -> v", "--batch 4 -> 8", "--seed 0 -> 3"})
    EXPECT_NE(changed.output.find(expected), std::string::npos) << changed.output;
  EXPECT_EQ(changed.output.find("--steps"), std::string::npos) << "only the refused options are named";
  EXPECT_EQ(slurp(out / "checkpoint.safetensors"), checkpoint);

  // The same model options given again are fine; a new --lr and --steps are applied and named.
  CommandResult applied = run_tessera(train(args + kModel + " --lr 1e-4 --steps 3"));
  ASSERT_EQ(applied.status, 0) << applied.output;
  EXPECT_NE(applied.output.find("changed training options, applied from step 2 on: --steps 2 -> 3, --lr 0.0002 -> "
                                "0.0001"),
            std::string::npos)
      << applied.output;
  // The checkpoint records them: the next resume compares against the new values.
  CommandResult next = run_tessera(train(args + " --steps 4"));
  ASSERT_EQ(next.status, 0) << next.output;
  EXPECT_NE(next.output.find("applied from step 3 on: --steps 3 -> 4\n"), std::string::npos) << next.output;
  EXPECT_NE(slurp(out / "loss.csv").find("\n4,"), std::string::npos);
}

class StopSignalTest : public TrainHardeningTest, public ::testing::WithParamInterface<int> {};

TEST_P(StopSignalTest, SavesACheckpointAndExitsWith128PlusTheSignal) {
  const int signal = GetParam();
  const fs::path out = dir_ / "run";
  BackgroundRun run(
      train("--out " + out.string() + kModel + " --sample-every 0 --checkpoint-every 100000 --steps 100000"),
      dir_ / "output.txt");
  EXPECT_EQ(run.stop_after(out / "loss.csv", "\n3,", {signal}), 128 + signal) << run.output();
  EXPECT_TRUE(fs::exists(out / "checkpoint.safetensors")) << run.output();
  EXPECT_NE(run.output().find("stopped at step"), std::string::npos) << run.output();
  CommandResult resumed = run_tessera(train("--out " + out.string() + " --resume --steps 1 --sample-every 0"));
  EXPECT_EQ(resumed.status, 0) << resumed.output;
}

INSTANTIATE_TEST_SUITE_P(TermAndHup, StopSignalTest, ::testing::Values(SIGTERM, SIGHUP),
                         [](const auto& info) { return info.param == SIGTERM ? "SIGTERM" : "SIGHUP"; });

TEST_F(TrainHardeningTest, AStopDuringASampleGridAbandonsIt) {
  // 1000 sampler steps per grid at 32x32: minutes before the stop was looked at between them.
  const fs::path out = dir_ / "run";
  BackgroundRun run(train("--out " + out.string() +
                          " --batch 2 --res 32 --base 16 --mult 1,2 --groups 4 --attn '' --sample-every 1"
                          " --sample-steps 1000 --steps 100"),
                    dir_ / "output.txt");
  EXPECT_EQ(run.stop_after(out / "loss.csv", "\n1,", {SIGINT}), 130) << run.output();
  EXPECT_FALSE(fs::exists(out / "samples" / "step-0000001.png")) << run.output();
  EXPECT_TRUE(fs::exists(out / "checkpoint.safetensors")) << run.output();
}

TEST_F(TrainHardeningTest, ASecondSignalStopsAtOnceWithoutSavingOrLeavingFiles) {
  // The two signals are taken microseconds apart; the run saves only if a step ends in between,
  // which larger steps (batch 16) make rarer still.
  const fs::path out = dir_ / "run";
  BackgroundRun run(train("--out " + out.string() +
                          " --batch 16 --res 16 --base 16 --mult 1,2 --groups 4 --attn 8 --sample-every 0"
                          " --checkpoint-every 100000 --steps 100000"),
                    dir_ / "output.txt");
  // Two different signals, so that the second is not merged into the first while pending.
  int status = run.stop_after(out / "loss.csv", "\n2,", {SIGTERM, SIGINT});
  EXPECT_TRUE(status == 130 || status == 143) << status << run.output();
  EXPECT_NE(run.output().find("stopping at once, without saving"), std::string::npos) << run.output();
  EXPECT_FALSE(fs::exists(out / "checkpoint.safetensors")) << run.output();
  for (const auto& e : fs::directory_iterator(out))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
}

TEST_F(TrainHardeningTest, NonUtf8ClassFoldersAreRefusedBeforeTraining) {
  const fs::path data = dir_ / "data", out = dir_ / "run";
  fs::create_directories(data);
  fs::copy(kFixtureData / "rock", data / "rock");
  fs::copy(kFixtureData / "wood", data / "b\xE4ume");  // Latin-1 "bäume"
  CommandResult r = run_tessera("train --data '" + data.string() + "' --out " + out.string() + kModel + " --steps 2");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("are not valid UTF-8: 'b\\xE4ume'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--unconditional"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out / "loss.csv")) << "training started:\n" << r.output;
  // Unconditional, the names are not stored: it trains.
  r = run_tessera("train --data '" + data.string() + "' --out " + out.string() + kModel +
                  " --steps 1 --sample-every 0 --unconditional");
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST_F(TrainHardeningTest, ANonUtf8DataPathIsRecordedEscaped) {
  const fs::path data = dir_ / "d\xFF\xFEta", out = dir_ / "run";
  fs::create_directories(data);
  fs::copy(kFixtureData / "rock", data / "rock");
  fs::copy(kFixtureData / "wood", data / "wood");
  CommandResult r = run_tessera("train --data '" + data.string() + "' --out " + out.string() + kModel +
                                " --steps 2 --sample-every 0");
  ASSERT_EQ(r.status, 0) << r.output;
  CommandResult info = run_tessera("info " + (out / "model.safetensors").string());
  EXPECT_NE(info.output.find("d\\xFF\\xFEta"), std::string::npos) << info.output;
}

TEST_F(TrainHardeningTest, ALossLogThatCannotBeWrittenStopsTrainingAtOnce) {
  // A file-size limit (ulimit -f, 512-byte blocks) stands in for a full disk: loss.csv fails
  // after some rows, well before --steps; the checkpoint does not fit either.
  const fs::path out = dir_ / "run";
  fs::create_directories(out);
  CommandResult r =
      run_command("trap '' XFSZ; ulimit -f 2; exec " + kTessera + " train --data " + kFixtureData.string() + " --out " +
                  out.string() + kModel + " --sample-every 0 --checkpoint-every 100000 --steps 300");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("cannot append to loss log '" + (out / "loss.csv").string() + "': File too large"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("training stopped at step"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("the checkpoint could not be saved either"), std::string::npos) << r.output;
  std::string log = slurp(out / "loss.csv");
  EXPECT_EQ(log.find("\n299,"), std::string::npos) << "training went on";
}

}  // namespace
}  // namespace tessera
