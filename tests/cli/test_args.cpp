// The argument rules every `tessera` command shares (cli/args.hpp), through the built binary:
// words the command does not take, single-dash options, flag values, integer overflow and
// options that the chosen sampler would ignore are errors that name the word, not silence.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "support/random_model.hpp"
#include "support/run_command.hpp"
#include "support/scratch_dir.hpp"
#include "tessera/model_file.hpp"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;

const std::string kData = std::string(TESSERA_SOURCE_DIR) + "/tests/fixtures/textures";

class ArgsCliTest : public ScratchSuite<ArgsCliTest> {
 protected:
  static void SetUpTestSuite() {
    ScratchSuite::SetUpTestSuite();
    save_random_model(dir_ / "model.safetensors", 5);
  }
  static std::string sample() {
    return "sample --model " + at("model.safetensors") + " --steps 1 --out " + at("out.png");
  }
};

// Each command line fails with exit 1 and a message naming what is wrong, and writes nothing.
TEST_F(ArgsCliTest, WordsNoCommandTakesAreErrorsNamingThem) {
  struct Case {
    std::string args, message;
  };
  const Case cases[] = {
      // Positional words and single-dash options, in every command.
      {"train --data " + kData + " --out " + at("run") + " extra --steps 1", "unexpected argument 'extra'"},
      {"train --data " + kData + " --out " + at("run") + " -n 4 --steps 1", "unknown option '-n'"},
      {sample() + " -s 3", "unknown option '-s'"},
      {"info " + at("model.safetensors") + " other.safetensors", "unexpected argument 'other.safetensors'"},
      {"info -v " + at("model.safetensors"), "unknown option '-v'"},
      {"devices now", "unexpected argument 'now'"},
      {"bench gemm twice --no-torch", "unexpected argument 'twice'"},
      {"bench sample --no-torch extra", "unexpected argument 'extra'"},
      // Values: an option given twice, a missing value, a flag with a value that is no boolean.
      {sample() + " --seed 1 --seed 2", "--seed is given more than once"},
      {"sample --model " + at("model.safetensors") + " --out --grid", "--out needs a value"},
      {sample() + " --grid=maybe", "flag --grid takes no value, or one of true/false/yes/no/1/0; got 'maybe'"},
      // Integers that overflow 32 or 64 bits are refused with the option and the value.
      {sample() + " --size 4294967312x16", "got '4294967312x16'"},
      {sample() + " --size 16x18446744073709551632", "got '16x18446744073709551632'"},
      {"bench gemm --no-torch --iters 4294967297", "--iters must be an integer in 1..1000000, got '4294967297'"},
      {"bench train --no-torch --res 16,4294967312", "got '16,4294967312'"},
      // Options the chosen sampler does not use.
      {sample() + " --eta 0.5", "--eta is the ddim sampler's noise; this run's sampler is dpmpp2m"},
      {sample() + " --sampler ddpm --eta 0", "--eta is the ddim sampler's noise; this run's sampler is ddpm"},
      {sample() + " --sampler ddim --variance beta",
       "--variance is the ddpm sampler's noise variance; this run's "
       "sampler is ddim"},
  };
  for (const Case& c : cases) {
    CommandResult r = run_tessera(c.args);
    EXPECT_EQ(r.status, 1) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.find("device:"), std::string::npos) << "refused only after starting: " << c.args;
  }
  EXPECT_FALSE(fs::exists(dir_ / "out.png"));
  EXPECT_FALSE(fs::exists(dir_ / "run" / "model.safetensors"));
  // Long values are echoed shortened.
  CommandResult r = run_tessera(sample() + " --class " + std::string(5000, 'q'));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("...(5000 bytes)'"), std::string::npos) << r.output.substr(0, 400);
  EXPECT_LT(r.output.size(), 1000u);
  // ... and printable: the CLI quotes values as every other message does (quote_name), so a
  // terminal escape or an invalid UTF-8 byte in an argument is echoed as \xNN.
  r = run_tessera(sample() + " \"--$(printf '\\033[31mred\\377')\"");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("unknown option '--\\x1B[31mred\\xFF'"), std::string::npos) << r.output.substr(0, 400);
}

// A flag takes no value or a boolean; false is the same as leaving it out.
TEST_F(ArgsCliTest, FalseFlagsAreOff) {
  CommandResult r = run_tessera(sample() + " --help=no --size 3x");
  EXPECT_EQ(r.status, 1) << r.output;  // not the help text: --help=no is no help
  EXPECT_NE(r.output.find("--size: expected WxH"), std::string::npos) << r.output;
  for (const char* on : {"--help", "--help=yes", "--help=true", "--help=1", "-h"}) {
    r = run_tessera(std::string("sample ") + on);
    EXPECT_EQ(r.status, 0) << on << r.output;
    EXPECT_NE(r.output.find("usage: tessera sample"), std::string::npos) << on;
  }
  // The values sampler options are given with are checked on their own samplers, and pass.
  EXPECT_EQ(run_tessera(sample() + " --sampler ddim --eta 0.5 --no-clip=false").status, 0);
  EXPECT_EQ(run_tessera(sample() + " --sampler ddpm --variance beta").status, 0);
  EXPECT_TRUE(fs::exists(dir_ / "out.png"));
  fs::remove(dir_ / "out.png");

  // --unconditional=no trains on the class folders: the model has the fixture's classes.
  const std::string run = at("conditional");
  r = run_tessera("train --data " + kData + " --out " + run +
                  " --unconditional=no --steps 1 --batch 2 --res 16 --base 16 --mult 1,2 --groups 4 --attn 8"
                  " --sample-every 0");
  ASSERT_EQ(r.status, 0) << r.output;
  ModelInfo info = read_model_info(fs::path(run) / "model.safetensors");
  EXPECT_FALSE(info.classes.empty());
  EXPECT_GT(info.config.num_classes, 0);
}

}  // namespace
}  // namespace tessera::testing
