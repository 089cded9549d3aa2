#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "tessera/dataset.hpp"
#include "tessera/error.hpp"
#include "tessera/image_io.hpp"

namespace tessera {
namespace {

namespace fs = std::filesystem;
const fs::path kFixtures = fs::path(TESSERA_SOURCE_DIR) / "tests" / "fixtures";

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("tessera-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

TEST(ImageIoTest, Png8RoundTripsExactly) {
  fs::path dir = temp_dir("png8");
  std::vector<uint8_t> rgba(5 * 3 * 4);
  for (size_t i = 0; i < rgba.size(); ++i) rgba[i] = (i % 4 == 3) ? 255 : uint8_t(i * 37 % 256);
  save_png(dir / "a.png", rgba, 5, 3);
  Image img = load_image(dir / "a.png");
  ASSERT_EQ(img.width, 5);
  ASSERT_EQ(img.height, 3);
  EXPECT_EQ(planes_to_rgba8(img.planes, 5, 3), rgba);
  for (const auto& e : fs::directory_iterator(dir)) EXPECT_EQ(e.path().filename(), "a.png") << "temporary file left";
  fs::remove_all(dir);
}

TEST(ImageIoTest, Reads16BitAndGray) {
  Image rgb = load_image(kFixtures / "png" / "rgb16.png");
  ASSERT_EQ(rgb.width, 4);
  ASSERT_EQ(rgb.height, 3);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 4; ++x) {
        double expected = std::nearbyint(65535.0 * (x + y + c) / 10) / 32767.5 - 1;
        EXPECT_NEAR(rgb.planes[(c * 3 + y) * 4 + x], expected, 1e-6);
      }
  Image gray = load_image(kFixtures / "png" / "gray16.png");
  for (int c = 0; c < 3; ++c)  // gray expands to three equal planes
    EXPECT_NEAR(gray.planes[(c * 3 + 2) * 4 + 1], std::nearbyint(65535.0 * 5 / 10) / 32767.5 - 1, 1e-6);
}

TEST(ImageIoTest, BadFilesAreNamed) {
  for (const char* f : {"truncated.png", "text.png", "empty.jpg", "missing.png"}) {
    try {
      load_image(kFixtures / "bad_images" / f);
      FAIL() << f << " should not load";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
    }
  }
}

TEST(ImageIoTest, FailedWriteLeavesNothingBehind) {
  fs::path dir = temp_dir("badwrite");
  std::vector<uint8_t> rgba(4 * 4, 255);
  EXPECT_THROW(save_png(dir / "no-such-folder" / "x.png", rgba, 2, 2), Error);
  EXPECT_THROW(save_png(dir / "x.png", rgba, 3, 2), Error);  // size mismatch
  // An existing file is replaced whole, or not at all.
  save_png(dir / "keep.png", rgba, 2, 2);
  auto before = fs::file_size(dir / "keep.png");
  fs::create_directory(dir / "blocker.png");
  EXPECT_THROW(save_png(dir / "blocker.png", rgba, 2, 2), Error);  // rename onto a folder fails
  EXPECT_EQ(fs::file_size(dir / "keep.png"), before);
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) entries += e.path().filename().string()[0] == '.' ? 100 : 1;
  EXPECT_EQ(entries, 2u) << "a temporary file was left behind";
  fs::remove_all(dir);
}

TEST(DatasetTest, LoadsClassesAndSkipsBadFiles) {
  std::vector<std::string> warnings;
  Dataset d = Dataset::load(kFixtures / "textures", 16, warnings);
  EXPECT_EQ(d.classes(), (std::vector<std::string>{"grass", "rock", "wood"}));
  EXPECT_EQ(d.size(), 12u);
  EXPECT_EQ(d.class_count(1), 4u);
  ASSERT_EQ(warnings.size(), 1u);  // LICENSES/ is not a class
  EXPECT_NE(warnings[0].find("LICENSES"), std::string::npos) << warnings[0];
  warnings.clear();
  Dataset bad = Dataset::load(kFixtures / "bad_images", 16, warnings);
  EXPECT_EQ(bad.size(), 1u);  // only good.png
  EXPECT_EQ(bad.classes().size(), 1u);
  ASSERT_EQ(warnings.size(), 3u);
  std::string all = warnings[0] + warnings[1] + warnings[2];
  for (const char* f : {"truncated.png", "text.png", "empty.jpg"}) EXPECT_NE(all.find(f), std::string::npos) << all;
  EXPECT_THROW(Dataset::load(kFixtures / "no-such-folder", 16, warnings), Error);
}

TEST(DatasetTest, BatchesAreDeterministicAugmentedCrops) {
  std::vector<std::string> warnings;
  Dataset d = Dataset::load(kFixtures / "textures", 16, warnings);
  std::vector<float> a, b, c;
  std::vector<uint32_t> la, lb, lc;
  d.sample_batch(5, 10, 6, 16, a, la);
  d.sample_batch(5, 10, 6, 16, b, lb);
  d.sample_batch(5, 11, 6, 16, c, lc);
  EXPECT_EQ(a, b);
  EXPECT_EQ(la, lb);
  EXPECT_NE(a, c);
  ASSERT_EQ(a.size(), 6u * 3 * 16 * 16);
  for (uint32_t l : la) EXPECT_LT(l, 3u);
  for (float v : a) ASSERT_TRUE(v >= -1.0f && v <= 1.0f);
}

TEST(DatasetTest, SmallImagesAreUpscaled) {
  std::vector<std::string> warnings;
  Dataset d = Dataset::load(kFixtures / "textures", 48, warnings);  // fixtures are 32x32
  std::vector<float> batch;
  std::vector<uint32_t> labels;
  EXPECT_NO_THROW(d.sample_batch(1, 0, 2, 48, batch, labels));
  Image tiny;
  tiny.width = tiny.height = 2;
  tiny.planes = {-1, 1, 1, -1, 0, 0, 0, 0, 1, 1, 1, 1};
  Image big = resize_bilinear(tiny, 4, 4);
  EXPECT_FLOAT_EQ(big.planes[0], -1.0f);  // corners keep their values
  EXPECT_FLOAT_EQ(big.planes[3], 1.0f);
  EXPECT_FLOAT_EQ(big.planes[1], -0.5f);  // interpolated
}

}  // namespace
}  // namespace tessera
