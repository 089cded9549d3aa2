// Material-set training data (SPEC §12): <stem>_<map>.png files form one sample, every map gets
// the same crop, flip and rotation, and bad sets get errors that name the files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "tessera/dataset.hpp"
#include "tessera/error.hpp"
#include "tessera/image_io.hpp"
#include "tessera/material_images.hpp"

namespace tessera {
namespace {

namespace fs = std::filesystem;
const std::vector<MapKind> kAll{MapKind::Albedo, MapKind::Height, MapKind::Roughness};

class MaterialDatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("tessera-material-data-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "rock");
  }
  void TearDown() override { fs::remove_all(root_); }

  // A sample whose maps are functions of the texel position: albedo (x, y, k), height and
  // roughness from the same (x, y), so a map that moved differently from another shows.
  void write_sample(const std::string& stem, int size, int k, int height_size = 0) {
    const size_t n = size_t(size) * size;
    std::vector<float> albedo(3 * n), rough(n);
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        size_t i = size_t(y) * size + x;
        albedo[i] = x / 127.5f - 1.0f;
        albedo[n + i] = y / 127.5f - 1.0f;
        albedo[2 * n + i] = k / 127.5f - 1.0f;
        rough[i] = (x + 2 * y) / 127.5f - 1.0f;
      }
    save_map_png(root_ / "rock" / (stem + "_albedo.png"), albedo, size, size, MapKind::Albedo);
    save_map_png(root_ / "rock" / (stem + "_roughness.png"), rough, size, size, MapKind::Roughness);
    const int hs = height_size ? height_size : size;
    std::vector<uint16_t> h(size_t(hs) * hs);
    for (int y = 0; y < hs; ++y)
      for (int x = 0; x < hs; ++x) h[size_t(y) * hs + x] = uint16_t(1000 * x + 7 * y);
    save_png_gray16(root_ / "rock" / (stem + "_height.png"), h, hs, hs);
  }
  std::string load_error(const std::vector<MapKind>& maps = kAll) {
    std::vector<std::string> warnings;
    try {
      Dataset::load(root_, 8, warnings, maps);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  fs::path root_;
};

TEST_F(MaterialDatasetTest, SixteenBitGreyPngsRoundTripExactly) {
  std::vector<uint16_t> v{0, 1, 255, 256, 32767, 32768, 65534, 65535, 12345};
  save_png_gray16(root_ / "h.png", v, 3, 3);
  PixelImage p = decode_image(root_ / "h.png");
  ASSERT_EQ(p.bits, 16);
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(static_cast<const uint16_t*>(p.samples.get())[3 * i], v[i]) << i;
  EXPECT_FLOAT_EQ(p.value(0, 2, 2), 12345 / 32767.5f - 1.0f);
}

// The samples a map's PNG holds (what save_map_png writes and the portable hashes cover): 8-bit
// channels interleaved, height 16-bit big-endian, both rounding half up from (x + 1) * max / 2;
// NaN and out-of-range values at the ends; a wrong size names the map.
TEST_F(MaterialDatasetTest, MapFileSamplesAreWhatThePngHolds) {
  const float nan = std::nanf("");
  const std::vector<float> height{-1.0f, 1.0f, 0.0f, nan, 2.0f, -3.0f};
  const std::vector<uint8_t> h = map_file_samples(height, 3, 2, MapKind::Height);
  EXPECT_EQ(h, (std::vector<uint8_t>{0, 0, 0xff, 0xff, 0x80, 0x00, 0, 0, 0xff, 0xff, 0, 0}));
  const std::vector<float> albedo{-1.0f, 0.0f, 1.0f, nan, -0.5f, 0.25f};  // R, G, B planes of 2 pixels
  EXPECT_EQ(map_file_samples(albedo, 2, 1, MapKind::Albedo), (std::vector<uint8_t>{0, 255, 64, 128, 0, 159}));
  EXPECT_EQ(unit_to_byte(0.0f), 128);  // 127.5 rounds half up
  save_map_png(root_ / "h.png", height, 3, 2, MapKind::Height);
  PixelImage p = decode_image(root_ / "h.png");
  ASSERT_EQ(p.bits, 16);
  for (size_t i = 0; i < height.size(); ++i)
    EXPECT_EQ(static_cast<const uint16_t*>(p.samples.get())[3 * i], h[2 * i] << 8 | h[2 * i + 1]) << i;
  try {
    map_file_samples(albedo, 2, 2, MapKind::Roughness);
    FAIL() << "a wrong size is refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the roughness map: expected 1 planes of 2x2 values, got 6"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(MaterialDatasetTest, EveryMapOfASampleGetsTheSameCropFlipAndRotation) {
  write_sample("a", 16, 10);
  write_sample("b", 16, 20);
  std::vector<std::string> warnings;
  Dataset d = Dataset::load(root_, 8, warnings, kAll);
  ASSERT_EQ(d.size(), 2u);
  ASSERT_EQ(d.channels(), 5);
  std::vector<float> batch;
  std::vector<uint32_t> labels;
  const int res = 8, n = 32;
  d.sample_batch(7, 3, n, res, batch, labels);
  ASSERT_EQ(batch.size(), size_t(n) * 5 * res * res);
  auto byte = [](float v) { return std::lround((v + 1.0f) * 127.5f); };
  int flips = 0;
  for (int s = 0; s < n; ++s)
    for (int i = 0; i < res * res; ++i) {
      const float* p = batch.data() + size_t(s) * 5 * res * res + i;
      long x = byte(p[0]), y = byte(p[res * res]);  // where this texel came from, read off the albedo
      EXPECT_TRUE(byte(p[2 * res * res]) == 10 || byte(p[2 * res * res]) == 20);
      // Height: 1000 x + 7 y in 16 bits; roughness: x + 2 y in 8 bits, from the same texel.
      EXPECT_EQ(std::lround((p[3 * res * res] + 1.0f) * 32767.5f), 1000 * x + 7 * y) << "sample " << s;
      EXPECT_EQ(byte(p[4 * res * res]), x + 2 * y) << "sample " << s;
      if (i == 0 && byte(p[1]) != x + 1) ++flips;  // the next column is not x + 1: flipped or rotated
    }
  EXPECT_GT(flips, 0);  // the test saw transformed crops, not only identity ones
}

TEST_F(MaterialDatasetTest, AMissingMapIsAnErrorThatNamesTheFile) {
  write_sample("a", 16, 10);
  fs::remove(root_ / "rock" / "a_roughness.png");
  EXPECT_EQ(load_error(), "training sample '" + (root_ / "rock" / "a").string() + "' has no roughness map: '" +
                              (root_ / "rock" / "a_roughness.png").string() +
                              "' is missing (the model's maps are albedo, height, roughness)");
  // A model without roughness does not need it.
  EXPECT_EQ(load_error({MapKind::Albedo, MapKind::Height}), "");
}

TEST_F(MaterialDatasetTest, MapsThatDifferInSizeAreAnError) {
  write_sample("a", 16, 10, /*height_size=*/32);
  std::string e = load_error();
  EXPECT_NE(e.find("the maps of training sample '" + (root_ / "rock" / "a_albedo.png").string() +
                   "' differ in size: 16x16, but '" + (root_ / "rock" / "a_height.png").string() + "' is 32x32"),
            std::string::npos)
      << e;
}

TEST_F(MaterialDatasetTest, AnEightBitHeightIsRefused) {
  write_sample("a", 16, 10);
  std::vector<float> grey(16 * 16, 0.0f);
  save_map_png(root_ / "rock" / "a_height.png", grey, 16, 16, MapKind::Roughness);  // an 8-bit grey PNG
  std::string e = load_error();
  EXPECT_NE(e.find("'" + (root_ / "rock" / "a_height.png").string() +
                   "' is a 8-bit image; height maps are stored in 16 bits"),
            std::string::npos)
      << e;
}

TEST_F(MaterialDatasetTest, AnAlbedoModelTrainsOnTheAlbedoOfAMaterialSet) {
  write_sample("a", 16, 10);
  write_sample("b", 16, 20);
  std::vector<std::string> warnings;
  Dataset d = Dataset::load(root_, 8, warnings);
  EXPECT_EQ(d.size(), 2u);
  EXPECT_EQ(d.channels(), 3);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("ignored 4 height/roughness map file(s)"), std::string::npos) << warnings[0];
}

TEST_F(MaterialDatasetTest, FilesWithoutAMapSuffixAreIgnoredWithAWarning) {
  write_sample("a", 16, 10);
  fs::copy_file(root_ / "rock" / "a_albedo.png", root_ / "rock" / "photo.png");
  std::vector<std::string> warnings;
  Dataset d = Dataset::load(root_, 8, warnings, kAll);
  EXPECT_EQ(d.size(), 1u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("without a map suffix"), std::string::npos);
  EXPECT_NE(warnings[0].find("'photo.png'"), std::string::npos);
}

TEST_F(MaterialDatasetTest, SmallSamplesAreUpscaledWithAllTheirMaps) {
  write_sample("a", 4, 10);
  std::vector<std::string> warnings;
  Dataset d = Dataset::load(root_, 8, warnings, kAll);
  std::vector<float> batch;
  std::vector<uint32_t> labels;
  d.sample_batch(1, 0, 2, 8, batch, labels);
  EXPECT_EQ(batch.size(), size_t(2) * 5 * 8 * 8);
}

}  // namespace
}  // namespace tessera
