// `tessera sample` with a material model (SPEC §12): every image becomes its maps as files, the
// normal map agrees with the written height, and bad material inputs get named errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "support/random_model.hpp"
#include "support/run_command.hpp"
#include "support/scratch_dir.hpp"
#include "tessera/image_io.hpp"
#include "tessera/material_images.hpp"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;

class SampleMaterialTest : public ScratchSuite<SampleMaterialTest> {
 protected:
  static void SetUpTestSuite() {
    ScratchSuite::SetUpTestSuite();
    ModelInfo info;
    info.config = UNetConfig::from_json(
        R"({"maps": ["albedo", "height", "roughness"], "base_channels": 16, "channel_mult": [1, 2],
            "num_res_blocks": 1, "attention_resolutions": [], "num_heads": 2, "norm_groups": 4, "num_classes": 2,
            "padding": "circular", "train_resolution": 16})");
    info.classes = {"brick", "moss"};
    write_random_model(dir_ / "material.safetensors", info, 8);
    save_random_model(dir_ / "rgb.safetensors", 9);
    std::vector<float> albedo(3 * 16 * 16, 0.25f), grey(16 * 16, -0.5f);
    save_map_png(dir_ / "in_albedo.png", albedo, 16, 16, MapKind::Albedo);
    save_map_png(dir_ / "in_height.png", grey, 16, 16, MapKind::Height);
    save_map_png(dir_ / "in_height8.png", grey, 16, 16, MapKind::Roughness);  // 8-bit grey
    save_map_png(dir_ / "in_roughness.png", grey, 16, 16, MapKind::Roughness);
  }
  static std::string material() { return " --model " + at("material.safetensors"); }
};

TEST_F(SampleMaterialTest, WritesEveryMapAndTheNormalsAgreeWithTheHeight) {
  CommandResult r = run_tessera("sample" + material() + " --count 2 --steps 3 --size 16x24 --normal-strength 5 --out " +
                                at("m-{seed}.png"));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* seed : {"0", "1"}) {
    const std::string stem = std::string("m-") + seed;
    PixelImage albedo = decode_image(dir_ / (stem + "_albedo.png")),
               height = decode_image(dir_ / (stem + "_height.png"));
    PixelImage rough = decode_image(dir_ / (stem + "_roughness.png")),
               normal = decode_image(dir_ / (stem + "_normal.png"));
    EXPECT_EQ(height.bits, 16);
    EXPECT_EQ(rough.bits, 8);
    for (const PixelImage* p : {&albedo, &height, &rough, &normal}) {
      EXPECT_EQ(p->width, 16);
      EXPECT_EQ(p->height, 24);
    }
    // The normal map, recomputed on the host from the 16-bit height as the op defines it
    // (wrap-around central differences, strength 5, OpenGL): within 1 step of 8 bits, the
    // height's 16-bit rounding and the 8-bit rounding of the normal.
    int worst = 0;
    for (int y = 0; y < 24; ++y)
      for (int x = 0; x < 16; ++x) {
        auto h = [&](int yy, int xx) { return double(height.value(0, (yy + 24) % 24, (xx + 16) % 16)); };
        const double k = 5.0 / 2;
        double p = (h(y, x + 1) - h(y, x - 1)) / 2 * k, q = (h(y + 1, x) - h(y - 1, x)) / 2 * k;
        double n[3] = {-p, q, 1}, len = std::sqrt(p * p + q * q + 1);
        for (int c = 0; c < 3; ++c) {
          int want = int(std::floor((n[c] / len + 1) * 127.5 + 0.5));
          int got = int(std::lround((normal.value(c, y, x) + 1) * 127.5));
          worst = std::max(worst, std::abs(want - got));
        }
      }
    EXPECT_LE(worst, 1) << stem;
  }
}

TEST_F(SampleMaterialTest, MapsChooseTheFilesAndAGridShowsThemSideBySide) {
  CommandResult r = run_tessera("sample" + material() + " --steps 2 --maps normal,albedo --out " + at("pick.png"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir_ / "pick_albedo.png"));
  EXPECT_TRUE(fs::exists(dir_ / "pick_normal.png"));
  EXPECT_FALSE(fs::exists(dir_ / "pick_height.png"));
  r = run_tessera("sample" + material() + " --class all --count 2 --steps 2 --grid --out " + at("grid.png"));
  ASSERT_EQ(r.status, 0) << r.output;
  Image grid = load_image(dir_ / "grid.png");
  EXPECT_EQ(grid.width, 8 * 16 + 9 * 2);   // 2 images x 4 maps per row
  EXPECT_EQ(grid.height, 2 * 16 + 3 * 2);  // one row per class
}

TEST_F(SampleMaterialTest, MaterialInputsFeedImg2imgAndInpainting) {
  CommandResult r = run_tessera("sample" + material() + " --steps 3 --init " + at("in_albedo.png") + " --init-height " +
                                at("in_height.png") + " --strength 0.5 --out " + at("i2i.png"));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_tessera("sample" + material() + " --steps 3 --init " + at("in_albedo.png") + " --mask " +
                  at("in_albedo.png") + " --init-height " + at("in_height.png") + " --init-roughness " +
                  at("in_roughness.png") + " --out " + at("inpaint.png"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir_ / "inpaint_normal.png"));
}

TEST_F(SampleMaterialTest, BadMaterialRequestsAreNamed) {
  auto error = [&](const std::string& args) {
    CommandResult r = run_tessera("sample" + args + " --steps 2 --out " + at("bad.png"));
    EXPECT_NE(r.status, 0) << args;
    return r.output;
  };
  std::string rgb = " --model " + at("rgb.safetensors");
  EXPECT_NE(error(rgb + " --maps normal")
                .find("--maps: 'normal' is not a map of this model (normals are derived "
                      "from height, which it has not); it gives: albedo"),
            std::string::npos);
  EXPECT_NE(error(material() + " --maps albedo,metal")
                .find("--maps: 'metal' is not a map of this model; it gives: "
                      "albedo, height, roughness, normal"),
            std::string::npos);
  EXPECT_NE(error(material() + " --init " + at("in_albedo.png") + " --init-height " + at("in_height8.png"))
                .find("is a 8-bit image; height maps are 16-bit"),
            std::string::npos);
  EXPECT_NE(error(material() + " --init " + at("in_albedo.png") + " --mask " + at("in_albedo.png"))
                .find("a material model's inpainting needs --init-height too"),
            std::string::npos);
  EXPECT_NE(error(rgb + " --init " + at("in_albedo.png") + " --init-height " + at("in_height.png"))
                .find("this one has only albedo"),
            std::string::npos);
  EXPECT_NE(error(material() + " --maps albedo --normal-strength 2").find("which this run does not write"),
            std::string::npos);
  EXPECT_NE(error(material() + " --normal-convention up").find("--normal-convention must be opengl"),
            std::string::npos);
  EXPECT_NE(error(material() + " --init-height " + at("in_height.png")).find("go with --init IMG"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "bad_albedo.png"));  // nothing written by a refused run
}

}  // namespace
}  // namespace tessera::testing
