// examples/love, the LÖVE game, as a player (or CI) runs it: `love examples/love` under xvfb-run
// (Mesa's GL, llvmpipe, where no GPU is present), with the built libtessera.so reached through
// LuaJIT's FFI, on a small random-weight material model so that its chunks generate in seconds.
// The autopilot walks a fixed path, waits until the view's ground is ready, saves a screenshot,
// prints the ready chunks' screen positions and frame-time statistics, and exits.
#include <gtest/gtest.h>
#include <stb/stb_image.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "support/random_model.hpp"
#include "support/run_command.hpp"
#include "support/scratch_dir.hpp"
#include "tessera.h"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;

bool have(const char* tool) { return run_command(std::string("command -v ") + tool + " > /dev/null").status == 0; }

struct Chunk {
  int cx = 0, cy = 0, x = 0, y = 0, size = 0;
  std::string material;
  double albedo[3] = {0, 0, 0};  // the mean colour of its generated albedo
};

// A material model (albedo, height, roughness) with four outdoor classes, 32x32, whose class
// embedding is strong enough that random weights still give each class its own look.
void save_random_material_model(const fs::path& path) {
  ModelInfo info;
  info.config = UNetConfig::from_json(
      R"({"base_channels": 8, "channel_mult": [1, 2], "num_res_blocks": 1, "attention_resolutions": [],
          "num_heads": 2, "norm_groups": 4, "num_classes": 4, "padding": "circular", "train_resolution": 32,
          "maps": ["albedo", "height", "roughness"]})");
  info.classes = {"grass", "dirt", "sand", "rock"};
  write_random_model(path, info, 11, 3.0f);
}

TEST(LoveExample, WalksGeneratesTheGroundAheadAndSavesAScreenshot) {
  if (!have("xvfb-run")) GTEST_SKIP() << "xvfb-run is not installed (Debian: apt-get install xvfb)";
  if (!have("love")) GTEST_SKIP() << "love is not installed (Debian: apt-get install love)";
  const fs::path dir = fresh_scratch_dir("love-test");
  const fs::path model = dir / "material.safetensors", png = dir / "love.png";
  save_random_material_model(model);

  std::string env =
      "TESSERA_VALIDATION=1 MESA_VK_IGNORE_CONFORMANCE_WARNING=1 TESSERA_LIB=" TESSERA_BINARY_DIR "/libtessera.so ";
#ifdef TESSERA_SANITIZER_PRELOAD
  // Sanitized build: love and LuaJIT are not instrumented, so the sanitized libtessera.so needs
  // the sanitizer runtimes preloaded; the leak check is off because the allocations of LÖVE,
  // SDL and Mesa's GL driver are not ours to check (the C API tests check Tessera's own).
  env += "LD_PRELOAD=" TESSERA_SANITIZER_PRELOAD " ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0 ";
#endif
  // 150 frames of walking (450 px to the right), 4 steps per chunk. The game then waits, frames
  // still running, until the view is generated, takes the screenshot, and runs 30 frames
  // without generation (which the statistics compare with the generating ones).
  CommandResult r = run_command("xvfb-run -a -s '-screen 0 1024x768x24' env " + env +
                                "love " TESSERA_SOURCE_DIR "/examples/love --model " + model.string() +
                                " --frames 150 --steps 4 --screenshot " + png.string() + " --timeout 240");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.find("vulkan validation"), std::string::npos) << r.output;

  // The FFI declarations have tessera.h's layout.
  std::ostringstream sizes;
  sizes << "struct sizes context_desc=" << sizeof(tsr_context_desc) << " vulkan_device=" << sizeof(tsr_vulkan_device)
        << " model_desc=" << sizeof(tsr_model_desc) << " model_info=" << sizeof(tsr_model_info)
        << " generate_desc=" << sizeof(tsr_generate_desc) << " tick_stats=" << sizeof(tsr_tick_stats);
  EXPECT_NE(r.output.find(sizes.str()), std::string::npos) << "expected " << sizes.str() << "\n" << r.output;

  // The statistics line and the chunks fully in view at the screenshot.
  int frames = 0, generated = 0, steps = 0;
  double frame_mean = 0, frame_p95 = 0, frame_max = 0;
  std::vector<Chunk> chunks;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    Chunk c;
    char material[64] = "";
    if (std::sscanf(line.c_str(), "chunk %d %d %63s at %d %d %d albedo %lf %lf %lf", &c.cx, &c.cy, material, &c.x, &c.y,
                    &c.size, &c.albedo[0], &c.albedo[1], &c.albedo[2]) == 9) {
      c.material = material;
      chunks.push_back(c);
    }
    if (std::sscanf(line.c_str(), "frames %d chunks_generated %d steps %d | frame_ms mean %lf p95 %lf max %lf", &frames,
                    &generated, &steps, &frame_mean, &frame_p95, &frame_max) == 6)
      std::printf("[ love     ] %s\n", line.c_str());  // the frame-time statistics, for the log
  }
  ASSERT_GT(frames, 150) << r.output;
  // The 800x600 view overlaps at least 5x4 chunks of 192 pixels, all generated before the
  // screenshot, and the walk asked for more (each chunk is 4 steps, so the ticks ran them all).
  EXPECT_GE(generated, 20) << r.output;
  EXPECT_GE(steps, 4 * generated) << r.output;
  EXPECT_GT(frame_mean, 0.0) << r.output;
  ASSERT_GE(chunks.size(), 4u) << r.output;
  // New ground appeared where the player walked: chunk column 3 (x from 576) was outside the
  // first view and the chunks wanted around it (x up to 400 + 96) and is fully in the last one.
  EXPECT_TRUE(std::any_of(chunks.begin(), chunks.end(), [](const Chunk& c) { return c.cx >= 3; })) << r.output;

  int width = 0, height = 0, channels = 0;
  std::unique_ptr<uint8_t, void (*)(void*)> pixels(stbi_load(png.string().c_str(), &width, &height, &channels, 4),
                                                   stbi_image_free);
  ASSERT_TRUE(pixels) << "no screenshot at " << png << "\n" << r.output;
  ASSERT_EQ(width, 800);
  ASSERT_EQ(height, 600);
  // Each chunk in view shows a texture, not a flat colour: the spread of its luminance over a
  // 12x12 grid of samples (the screenshot was taken with every chunk in view ready).
  double lit = 0;
  for (const Chunk& c : chunks) {
    double sum = 0, sum2 = 0;
    for (int j = 0; j < 12; ++j)
      for (int i = 0; i < 12; ++i) {
        const int x = c.x + (i * 2 + 1) * c.size / 24, y = c.y + (j * 2 + 1) * c.size / 24;
        const uint8_t* p = pixels.get() + (size_t(y) * width + x) * 4;
        const double l = (p[0] + p[1] + p[2]) / 3.0;
        sum += l, sum2 += l * l;
      }
    const double mean = sum / 144, spread = std::sqrt(std::max(0.0, sum2 / 144 - mean * mean));
    EXPECT_GT(spread, 2.0) << "chunk " << c.cx << "," << c.cy << " looks flat";
    lit += mean / chunks.size();
  }
  EXPECT_GT(lit, 20.0) << "the ground is (nearly) black";
  // Each chunk is its own generation (its own seed, and class by region): no two albedos alike.
  for (size_t a = 0; a < chunks.size(); ++a)
    for (size_t b = a + 1; b < chunks.size(); ++b) {
      double d = 0;
      for (int k = 0; k < 3; ++k) d += std::abs(chunks[a].albedo[k] - chunks[b].albedo[k]);
      EXPECT_GT(d, 0.3) << "chunks " << chunks[a].cx << "," << chunks[a].cy << " and " << chunks[b].cx << ","
                        << chunks[b].cy << " have the same mean albedo";
    }
  if (!std::getenv("TESSERA_LOVE_KEEP")) fs::remove_all(dir);
}

}  // namespace
}  // namespace tessera::testing
