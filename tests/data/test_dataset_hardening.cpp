// Training-data edge cases (issue 12, item 18) and the loss log's write errors: odd folders
// reach the user as warnings or named errors, images are held compactly, a full disk is
// reported at the row that fails.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "tessera/dataset.hpp"
#include "tessera/error.hpp"
#include "tessera/image_io.hpp"
#include "tessera/quote_name.hpp"
#include "tessera/training_log.hpp"
#include "tessera/utf8.hpp"

namespace tessera {
namespace {

namespace fs = std::filesystem;
const fs::path kFixtures = fs::path(TESSERA_SOURCE_DIR) / "tests" / "fixtures";

class DatasetHardeningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("tessera-data-hardening-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // A class folder holding copies of the rock fixtures.
  void add_class(const std::string& name) {
    fs::create_directories(root_ / name);
    for (const auto& e : fs::directory_iterator(kFixtures / "textures" / "rock"))
      fs::copy_file(e.path(), root_ / name / e.path().filename());
  }
  std::string all(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }
  fs::path root_;
};

TEST_F(DatasetHardeningTest, SymlinkLoopsAndDanglingLinksAreSkippedByName) {
  add_class("rock");
  add_class("sand");
  fs::create_symlink("loop", root_ / "loop");                   // the folder level
  fs::create_symlink("self.png", root_ / "rock" / "self.png");  // inside a class
  fs::create_symlink("/no/such/file.png", root_ / "sand" / "gone.png");
  std::vector<std::string> warnings;
  Dataset d = Dataset::load(root_, 16, warnings);
  EXPECT_EQ(d.classes(), (std::vector<std::string>{"rock", "sand"}));
  EXPECT_EQ(d.size(), 8u);
  std::string w = all(warnings);
  EXPECT_NE(w.find("'" + (root_ / "loop").string() + "': Too many levels of symbolic links"), std::string::npos) << w;
  EXPECT_NE(w.find("self.png': Too many levels of symbolic links"), std::string::npos) << w;
  EXPECT_NE(w.find("gone.png': a dangling symbolic link"), std::string::npos) << w;
}

TEST_F(DatasetHardeningTest, ImagesLooseNextToClassFoldersAreNamed) {
  add_class("rock");
  fs::copy_file(kFixtures / "bad_images" / "good.png", root_ / "stray.png");
  std::vector<std::string> warnings;
  Dataset d = Dataset::load(root_, 16, warnings);
  EXPECT_EQ(d.classes(), (std::vector<std::string>{"rock"}));
  ASSERT_EQ(warnings.size(), 1u) << all(warnings);
  EXPECT_NE(warnings[0].find("ignored 1 image file(s) in '" + root_.string() + "' itself ('stray.png')"),
            std::string::npos)
      << warnings[0];
}

TEST_F(DatasetHardeningTest, ImagesBesideAFolderWithoutImagesAreOneClass) {
  // LICENSES/ is not a class, so the loose images are the data (they used to be dropped).
  fs::create_directories(root_ / "LICENSES");
  std::ofstream(root_ / "LICENSES" / "CC-BY-SA-3.0.txt") << "licence text";
  for (const auto& e : fs::directory_iterator(kFixtures / "textures" / "wood"))
    fs::copy_file(e.path(), root_ / e.path().filename());
  std::vector<std::string> warnings;
  Dataset d = Dataset::load(root_, 16, warnings);
  EXPECT_EQ(d.classes(), (std::vector<std::string>{""}));
  EXPECT_EQ(d.size(), 4u);
}

TEST_F(DatasetHardeningTest, AClassOfBadFilesNamesEveryFilesProblem) {
  add_class("rock");
  fs::create_directories(root_ / "broken");
  for (const char* f : {"truncated.png", "text.png", "empty.jpg"})
    fs::copy_file(kFixtures / "bad_images" / f, root_ / "broken" / f);
  std::vector<std::string> warnings;
  try {
    Dataset::load(root_, 16, warnings);
    FAIL() << "a class without a readable image must be an error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("class folder '" + (root_ / "broken").string() + "' holds no readable PNG/JPEG image"),
              std::string::npos)
        << m;
    for (const char* f : {"truncated.png", "text.png", "empty.jpg"}) EXPECT_NE(m.find(f), std::string::npos) << m;
  }
}

// Per channel, the batch's values as sorted lists, and the same of an image's planes.
std::vector<std::vector<float>> sorted_channels(const float* planes, size_t plane) {
  std::vector<std::vector<float>> out;
  for (int c = 0; c < 3; ++c) {
    out.emplace_back(planes + c * plane, planes + (c + 1) * plane);
    std::sort(out.back().begin(), out.back().end());
  }
  return out;
}

TEST_F(DatasetHardeningTest, ImagesAreHeldAsDecodedSamplesAndCropExactly) {
  // 8-bit RGB: 3 bytes per pixel held (it was 12, as float planes). A crop the size of the
  // image holds exactly load_image's values (flipped or rotated: compared sorted per channel).
  fs::create_directories(root_ / "one");
  const int res = 16;
  std::vector<uint8_t> rgba(size_t(res) * res * 4);
  for (size_t i = 0; i < rgba.size(); ++i) rgba[i] = i % 4 == 3 ? 255 : uint8_t(i * 53 % 251);
  save_png(root_ / "one" / "a.png", rgba, res, res);
  std::vector<std::string> warnings;
  Dataset d = Dataset::load(root_, res, warnings);
  EXPECT_EQ(d.pixel_bytes(), size_t(res) * res * 3);
  std::vector<float> batch;
  std::vector<uint32_t> labels;
  d.sample_batch(3, 7, 1, res, batch, labels);
  Image reference = load_image(root_ / "one" / "a.png");
  EXPECT_EQ(sorted_channels(batch.data(), size_t(res) * res),
            sorted_channels(reference.planes.data(), size_t(res) * res));

  // 16-bit (the 4x3 fixture): 6 bytes per pixel; every cropped value is one of the image's.
  fs::remove_all(root_ / "one");
  fs::create_directories(root_ / "one");
  fs::copy_file(kFixtures / "png" / "rgb16.png", root_ / "one" / "rgb16.png");
  Dataset d16 = Dataset::load(root_, 3, warnings);
  EXPECT_EQ(d16.pixel_bytes(), size_t(4) * 3 * 6);
  d16.sample_batch(1, 2, 4, 3, batch, labels);
  auto values = sorted_channels(load_image(root_ / "one" / "rgb16.png").planes.data(), 12);
  for (size_t i = 0; i < batch.size(); ++i) {
    const auto& channel = values[i / 9 % 3];
    EXPECT_TRUE(std::binary_search(channel.begin(), channel.end(), batch[i])) << "value " << i << ": " << batch[i];
  }
}

TEST(LossLogTest, AWriteFailureThrowsAtTheRowThatFailsAndLeavesNoPartialRow) {
  fs::path dir = fs::temp_directory_path() / ("tessera-losslog-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  // A file-size limit stands in for a full disk: writes past it fail (EFBIG) like ENOSPC would.
  constexpr rlim_t kLimit = 4096;
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  std::string message;
  int appended = 0;
  {
    LossLog log(dir / "loss.csv", 0);
    rlimit limited{kLimit, old.rlim_max};
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
    try {
      for (; appended < 1000; ++appended) log.append(appended + 1, 0.123456, 1.5, 2e-4, appended * 0.25);
    } catch (const Error& e) {
      message = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &old);
  }
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(message.find("cannot append to loss log '" + (dir / "loss.csv").string() + "': File too large"),
            std::string::npos)
      << message;
  std::ifstream in(dir / "loss.csv");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_LE(text.size(), kLimit);
  EXPECT_GT(text.size() + 64, kLimit) << "the failure was reported late";
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n') << "a partial row was left";
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), appended + 1);  // the header and every row appended
  fs::remove_all(dir);
}

TEST(Utf8Test, InvalidBytesAreEscapedAndLongTextCut) {
  EXPECT_EQ(first_invalid_utf8("caf\xC3\xA9"), std::string_view::npos);
  EXPECT_EQ(first_invalid_utf8("ab\xFF"), 2u);
  EXPECT_EQ(first_invalid_utf8("\xC0\x80"), 0u);  // overlong
  EXPECT_EQ(escape_invalid_utf8("caf\xC3\xA9 \xFF\xFE!"), "caf\xC3\xA9 \\xFF\\xFE!");
  EXPECT_EQ(escape_invalid_utf8(std::string(300, 'a'), 8), "aaaaaaaa... (300 bytes)");
}

// quote_name and escape_invalid_utf8 share one walk (escape_text): a name is quoted and kept
// printable and valid UTF-8 - control bytes, quotes, backslashes and invalid bytes as \xNN.
TEST(Utf8Test, QuotedNamesEscapeControlAndInvalidBytes) {
  EXPECT_EQ(quote_name("b\xE4ume"), "'b\\xE4ume'");
  EXPECT_EQ(quote_name("caf\xC3\xA9 'x'\\\n"), "'caf\xC3\xA9 \\x27x\\x27\\x5C\\x0A'");
  EXPECT_EQ(quote_name(std::string(300, 'a'), 8), "'aaaaaaaa...(300 bytes)'");
}

}  // namespace
}  // namespace tessera
