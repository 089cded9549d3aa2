// The shipped hosts: the C example (its own VkDevice, 4 ms ticks, a PNG) and the C# binding
// compiled with mcs and run with mono against the built libtessera.so.
#include <cstdio>
#include <sstream>

#include "plugin/plugin_test.hpp"
#include "support/run_command.hpp"
#include "tessera/image_io.hpp"

namespace tessera::testing {
namespace {

bool have(const char* tool) { return run_command(std::string("command -v ") + tool).status == 0; }

TEST(PluginHosts, CExampleTicksOnItsOwnDeviceAndWritesAPng) {
  const fs::path out = plugin_model_path().parent_path() / "host_c.png";
  CommandResult r = run_command(std::string(TESSERA_BINARY_DIR) + "/tessera_host_c " + plugin_model_path().string() +
                                " " + out.string() + " wood 5 6");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "progress 6/6")) << r.output;
  EXPECT_TRUE(contains(r.output, "frame 0: ")) << r.output;
  EXPECT_FALSE(contains(r.output, ": 0 step(s)")) << "every frame advances the job\n" << r.output;
  Image img = load_image(out);
  EXPECT_EQ(img.width, 16);
  EXPECT_EQ(img.height, 16);
}

TEST(PluginHosts, CExampleReadsEveryMapOfAMaterialModelAsAVkImage) {
  const fs::path dir = plugin_model_path().parent_path();
  ModelInfo info;
  info.config = UNetConfig::from_json(
      R"({"base_channels": 8, "channel_mult": [1, 2], "num_res_blocks": 1, "attention_resolutions": [],
          "num_heads": 2, "norm_groups": 4, "num_classes": 0, "train_resolution": 16,
          "maps": ["albedo", "height", "roughness"]})");
  write_random_model(dir / "host_material.safetensors", info, 3);
  CommandResult r =
      run_command(std::string(TESSERA_BINARY_DIR) + "/tessera_host_c " + (dir / "host_material.safetensors").string() +
                  " " + (dir / "mat.png").string() + " 0 5 3 async");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* map : {"albedo", "height", "roughness", "normal"})
    EXPECT_TRUE(contains(r.output, std::string("map ") + map + ": VkImage 16x16 ready")) << map << "\n" << r.output;
  // The PNGs hold each map: height grey, the normals pointing out of the surface (blue high).
  PixelImage height = decode_image(dir / "mat_height.png"), normal = decode_image(dir / "mat_normal.png");
  ASSERT_EQ(height.width, 16);
  double blue = 0;
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x) {
      EXPECT_EQ(height.value(0, y, x), height.value(1, y, x));
      blue += normal.value(2, y, x);
    }
  EXPECT_GT(blue / 256, 0.0) << "mean normal z in [-1, 1] should be > 0";
  EXPECT_TRUE(fs::exists(dir / "mat_roughness.png"));
}

TEST(PluginHosts, CSharpBindingDrivesTheLibrary) {
  if (!have("mcs") || !have("mono")) GTEST_SKIP() << "mcs/mono not installed (Debian: mono-mcs mono-runtime)";
  const fs::path dir = plugin_model_path().parent_path();
  const std::string exe = (dir / "TesseraTest.exe").string();
  CommandResult build = run_command("mcs -nologo -warnaserror -out:" + exe +
                                    " " TESSERA_SOURCE_DIR "/plugin/bindings/csharp/Tessera.cs " +
                                    TESSERA_SOURCE_DIR "/tests/plugin/csharp/TesseraTest.cs");
  ASSERT_EQ(build.status, 0) << build.output;
  // mono finds DllImport("tessera") as libtessera.so on LD_LIBRARY_PATH.
  std::string env = "LD_LIBRARY_PATH=" TESSERA_BINARY_DIR " ";
#ifdef TESSERA_SANITIZER_PRELOAD
  // Sanitized build: mono itself is not instrumented (its own allocations are not ours to check).
  env += "LD_PRELOAD=" TESSERA_SANITIZER_PRELOAD " ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0 ";
#endif
  CommandResult r = run_command(env + "mono " + exe + " " + plugin_model_path().string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "OK")) << r.output;

  // The binding's structs have the C layout.
  std::ostringstream sizes;
  sizes << "sizes";
  for (const auto& [name, size] : header_struct_sizes()) sizes << " " << name.substr(4) << "=" << size;  // no tsr_
  EXPECT_TRUE(contains(r.output, sizes.str())) << "expected " << sizes.str() << "\n" << r.output;

  // Same request through the C API in this process: the same bytes.
  LogSink sink;
  tsr_context_desc d = context_desc(&sink);
  tsr_context ctx = create_context(d);
  tsr_model model = load_test_model(ctx);
  tsr_generate_desc g = generate_desc(model, 77, 3);
  g.class_name = "wood";
  tsr_job job = submit(ctx, g);
  std::vector<uint8_t> pixels = run_to_end(ctx, job, 16, 16);
  std::string hex;
  char byte[3];
  for (uint8_t b : pixels) {
    std::snprintf(byte, sizeof byte, "%02x", b);
    hex += byte;
  }
  EXPECT_TRUE(contains(r.output, "pixels " + hex)) << "the C# host got other pixels";
  EXPECT_EQ(tsr_context_destroy(ctx), TSR_SUCCESS);
  sink.expect_no_validation_messages();
}

}  // namespace
}  // namespace tessera::testing
