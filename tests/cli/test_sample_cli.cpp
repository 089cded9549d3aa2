// `tessera sample` as a user runs it: the built binary on a small random-weight model file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/random_model.hpp"
#include "support/run_command.hpp"
#include "support/scratch_dir.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/image_io.hpp"
#include "tessera/model_file.hpp"
#include "tessera/rng.hpp"
#include "tessera/unet.hpp"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

class SampleCliTest : public ScratchSuite<SampleCliTest> {
 protected:
  static void SetUpTestSuite() {
    ScratchSuite::SetUpTestSuite();
    save_random_model(dir_ / "model.safetensors", 21);
    // An input texture for img2img / inpainting and a mask whose left half is black (keep).
    std::vector<uint8_t> rgba(16 * 16 * 4), mask(16 * 16 * 4, 255);
    for (size_t i = 0; i < rgba.size(); ++i) rgba[i] = (i % 4 == 3) ? 255 : uint8_t((i * 29) % 251);
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 8; ++x)
        for (int c = 0; c < 3; ++c) mask[(y * 16 + x) * 4 + c] = 0;
    save_png(dir_ / "input.png", rgba, 16, 16);
    save_png(dir_ / "mask.png", mask, 16, 16);
  }
  static std::string model() { return " --model " + (dir_ / "model.safetensors").string(); }
};

TEST_F(SampleCliTest, WritesNamedImagesDeterministically) {
  CommandResult r = run_tessera("sample" + model() + " --class moss --count 2 --seed 5 --steps 4 --size 16x32 --out " +
                                at("{class}-{seed}.png"));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* f : {"moss-5.png", "moss-6.png"}) {
    Image img = load_image(dir_ / f);
    EXPECT_EQ(img.width, 16);
    EXPECT_EQ(img.height, 32);
  }
  // Image 1 of that run is seed 6 alone, with the same bytes; other samplers run too.
  ASSERT_EQ(run_tessera("sample" + model() + " --class 1 --seed 6 --steps 4 --size 16x32 --out " + at("again.png")).status, 0);
  EXPECT_EQ(slurp(dir_ / "moss-6.png"), slurp(dir_ / "again.png"));
  for (const char* s : {"ddpm", "ddim --eta 0.5"}) {
    r = run_tessera("sample" + model() + " --steps 3 --guidance 2 --sampler " + s + " --out " + at("s.png"));
    EXPECT_EQ(r.status, 0) << s << r.output;
  }
  r = run_tessera("sample" + model() + " --count 3 --steps 2 --grid --out " + at("grid.png"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(load_image(dir_ / "grid.png").width, 2 * 16 + 3 * 2);  // 2 columns, 2-pixel gaps
}

// --class all: --count images per class with the same seeds; as a grid, one row per class.
TEST_F(SampleCliTest, AllClassesGiveOneRowPerClassWithTheSameSeeds) {
  CommandResult r = run_tessera("sample" + model() + " --class all --count 3 --seed 4 --steps 3 --batch 2 --out " +
                                at("every-{class}-{seed}.png"));
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_EQ(run_tessera("sample" + model() + " --class moss --seed 5 --steps 3 --out " + at("moss-alone.png")).status, 0);
  EXPECT_EQ(slurp(dir_ / "every-moss-5.png"), slurp(dir_ / "moss-alone.png"));  // batching and labels mixed freely
  EXPECT_TRUE(fs::exists(dir_ / "every-brick-6.png"));
  r = run_tessera("sample" + model() + " --class all --count 3 --steps 2 --grid --out " + at("classes.png"));
  ASSERT_EQ(r.status, 0) << r.output;
  Image grid = load_image(dir_ / "classes.png");
  EXPECT_EQ(grid.width, 3 * 16 + 4 * 2);   // a column per seed
  EXPECT_EQ(grid.height, 2 * 16 + 3 * 2);  // a row per class
}

TEST_F(SampleCliTest, Img2ImgAtStrengthZeroAndInpaintingKeepTheInput) {
  CommandResult r = run_tessera("sample" + model() + " --init " + at("input.png") + " --strength 0 --out " + at("same.png"));
  ASSERT_EQ(r.status, 0) << r.output;
  Image in = load_image(dir_ / "input.png"), same = load_image(dir_ / "same.png");
  EXPECT_EQ(planes_to_rgba8(in.planes, 16, 16), planes_to_rgba8(same.planes, 16, 16));
  r = run_tessera("sample" + model() + " --steps 5 --init " + at("input.png") + " --mask " + at("mask.png") + " --out " +
                  at("inpainted.png"));
  ASSERT_EQ(r.status, 0) << r.output;
  auto a = planes_to_rgba8(in.planes, 16, 16), b = planes_to_rgba8(load_image(dir_ / "inpainted.png").planes, 16, 16);
  int kept = 0, changed = 0;
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x)
      for (int c = 0; c < 3; ++c) {
        size_t i = (y * 16 + x) * 4 + c;
        if (x < 8) kept += a[i] == b[i];
        else changed += a[i] != b[i];
      }
  EXPECT_EQ(kept, 16 * 8 * 3);
  EXPECT_GT(changed, 16 * 8 * 3 / 2);
}

TEST_F(SampleCliTest, BadArgumentsGetClearErrorsAndWriteNothing) {
  struct Case {
    std::string args, message;
  };
  const Case cases[] = {
      {model() + " --class stone", "this model's classes: 0 'brick', 1 'moss'"},
      {model() + " --size 15x16", "not a multiple of 2"},
      {model() + " --size big", "--size: expected WxH"},
      {model() + " --sampler euler", "unknown sampler 'euler'"},
      {model() + " --steps 0", "--steps"},
      {model() + " --strength 0.5", "--strength needs --init"},
      {model() + " --init " + at("missing.png"), "missing.png"},
      {model() + " --init " + at("input.png") + " --size 32x32", "--init is 16x16 but --size is 32x32"},
      {" --model " + at("input.png"), "input.png"},
      {model() + " --eta 2", "--eta"},
  };
  for (const Case& c : cases) {
    CommandResult r = run_tessera("sample" + c.args + " --out " + at("bad.png"));
    EXPECT_EQ(r.status, 1) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_FALSE(fs::exists(dir_ / "bad.png")) << c.args;
  }
}

}  // namespace
}  // namespace tessera::testing
