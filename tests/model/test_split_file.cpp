// Models and checkpoints split in parts of at most N bytes (tessera/split_file.hpp): written by
// `tessera model split` and train-gpu.sh, read whole by every model reader, and every way a part
// can go wrong is an error naming the part. Parts here are a few KiB so the files stay small.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "plugin/plugin_test.hpp"
#include "support/random_model.hpp"
#include "support/run_command.hpp"
#include "support/scratch_dir.hpp"
#include "tessera/error.hpp"
#include "tessera/safetensors.hpp"
#include "tessera/split_file.hpp"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kPartBytes = 16 * 1024;

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void put(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

std::span<const std::byte> as_span(const std::string& s) { return std::as_bytes(std::span(s)); }

// The reader's message for FILE, or "" when it reads.
std::string load_error(const fs::path& file) {
  try {
    SafetensorsFile::load(file);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

class SplitFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_scratch_dir(std::string("split-") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / "whole");
    fs::create_directories(dir_ / "split");
    save_random_model(whole(), 31);
    bytes_ = slurp(whole());
    ASSERT_GT(bytes_.size(), 3 * kPartBytes);  // several parts
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path whole() const { return dir_ / "whole" / "model.safetensors"; }
  fs::path split() const { return dir_ / "split" / "model.safetensors"; }
  fs::path part(int i) const { return dir_ / "split" / split_part_name("model.safetensors", i, count()); }
  int count() const { return static_cast<int>((bytes_.size() + kPartBytes - 1) / kPartBytes); }

  fs::path dir_;
  std::string bytes_;
};

TEST_F(SplitFileTest, PartsHoldTheFileInOrderAndReadBackAsIt) {
  std::vector<fs::path> written = write_split_file(split(), as_span(bytes_), kPartBytes);
  ASSERT_EQ(written.size(), static_cast<size_t>(count()) + 1);
  EXPECT_EQ(written.back(), split_manifest_path(split()));
  EXPECT_EQ(split_manifest_path(split()).filename(), "model.safetensors.parts");
  std::string joined;
  for (int i = 0; i < count(); ++i) {
    EXPECT_EQ(written[static_cast<size_t>(i)], part(i));
    EXPECT_LE(fs::file_size(part(i)), kPartBytes);
    joined += slurp(part(i));
  }
  EXPECT_EQ(joined, bytes_);  // `cat` joins them too
  EXPECT_FALSE(fs::exists(split()));

  std::vector<std::byte> read = read_file_or_parts(split());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(read.data()), read.size()), bytes_);
  EXPECT_EQ(read_file_or_parts(split_manifest_path(split())), read);  // the manifest names it too
  EXPECT_EQ(file_or_parts_size(split()), bytes_.size());
  EXPECT_EQ(load_error(split()), "");

  // Split again in fewer parts: the earlier split's parts go, and the file still reads.
  write_split_file(split(), as_span(bytes_), bytes_.size());
  EXPECT_FALSE(fs::exists(part(0)));
  EXPECT_TRUE(fs::exists(dir_ / "split" / split_part_name("model.safetensors", 0, 1)));
  EXPECT_EQ(read_file_or_parts(split()), read);
}

// Through the command line as a user would: split, sample from the parts, info, join.
TEST_F(SplitFileTest, SplitModelSamplesTheSameBytesAsTheWholeFile) {
  CommandResult r = run_tessera("model split " + whole().string() + " --part-bytes " + std::to_string(kPartBytes) +
                                " --out " + (dir_ / "split").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("model.safetensors.part-000-of-"), std::string::npos) << r.output;
  for (int i = 0; i < count(); ++i) EXPECT_LE(fs::file_size(part(i)), kPartBytes);

  const std::string sample = " --class moss --seed 3 --steps 3 --size 16x16 --out ";
  for (const fs::path& model : {whole(), split(), split_manifest_path(split())}) {
    r = run_tessera("sample --model " + model.string() + sample +
                    (dir_ / (model.filename().string() + ".png")).string());
    ASSERT_EQ(r.status, 0) << model << r.output;
  }
  const std::string from_whole = slurp(dir_ / "model.safetensors.png");
  EXPECT_FALSE(from_whole.empty());
  EXPECT_EQ(slurp(dir_ / "model.safetensors.png"), from_whole);
  EXPECT_EQ(slurp(dir_ / "model.safetensors.parts.png"), from_whole);
  r = run_tessera("info " + split().string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("classes:"), std::string::npos) << r.output;

  r = run_tessera("model join " + split().string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(slurp(split()), bytes_);
  r = run_tessera("model join " + split_manifest_path(split()).string() + " --out " + (dir_ / "joined").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(slurp(dir_ / "joined"), bytes_);
}

TEST_F(SplitFileTest, EachBadPartIsAnErrorNamingIt) {
  write_split_file(split(), as_span(bytes_), kPartBytes);
  const std::string manifest = slurp(split_manifest_path(split()));
  const std::string second = slurp(part(1));
  const std::string which = "part 2 of " + std::to_string(count()) + " '" + part(1).string() + "'";
  auto restore = [&] {
    put(split_manifest_path(split()), manifest);
    put(part(1), second);
    ASSERT_EQ(load_error(split()), "");
  };

  fs::remove(part(1));
  EXPECT_EQ(load_error(split()), split_manifest_path(split()).string() + ": " + which + " is missing");
  restore();
  put(part(1), second.substr(0, second.size() - 1));
  EXPECT_EQ(load_error(split()), split_manifest_path(split()).string() + ": " + which + " is " +
                                     std::to_string(second.size() - 1) + " bytes, the manifest says " +
                                     std::to_string(second.size()) + " (cut short?)");
  restore();
  put(part(1), second + "x");
  EXPECT_NE(load_error(split()).find(which + " is " + std::to_string(second.size() + 1) + " bytes"), std::string::npos);
  restore();
  std::string flipped = second;
  flipped[100] = static_cast<char>(flipped[100] ^ 0x10);
  put(part(1), flipped);
  EXPECT_NE(load_error(split()).find(which + " is corrupt: its CRC-32 is "), std::string::npos) << load_error(split());
  restore();

  const fs::path stray = dir_ / "split" / split_part_name("model.safetensors", count(), count() + 1);
  put(stray, "left over");
  EXPECT_NE(load_error(split()).find("'" + stray.filename().string() +
                                     "' lies beside the parts but the manifest does not list it"),
            std::string::npos)
      << load_error(split());
  fs::remove(stray);

  fs::remove(split_manifest_path(split()));
  EXPECT_NE(load_error(split()).find(": no such file, and its parts '" + part(0).filename().string()),
            std::string::npos)
      << load_error(split());
  EXPECT_NE(load_error(split()).find("have no manifest"), std::string::npos);
  restore();

  // A manifest that is not one, or that names parts outside the set, is refused before any part is read.
  put(split_manifest_path(split()), "{\"format\": \"tessera.split\"");
  EXPECT_NE(load_error(split()).find("not a split-file manifest: it is not valid JSON"), std::string::npos);
  std::string renamed = manifest;
  renamed.replace(renamed.find("model.safetensors.part-000"), 17, "../whole/model.sa");
  put(split_manifest_path(split()), renamed);
  EXPECT_NE(load_error(split()).find("part 1 of " + std::to_string(count()) + " is named"), std::string::npos)
      << load_error(split());
  std::string total = manifest;
  total.replace(total.find("\"bytes\": ") + 9, 1, "9");  // the first "bytes" is the total
  put(split_manifest_path(split()), total);
  EXPECT_NE(load_error(split()).find("its parts hold " + std::to_string(bytes_.size()) + " bytes together"),
            std::string::npos)
      << load_error(split());
  restore();

  // The parts' bytes are then checked as a whole file is: a part that is the right size and CRC
  // but holds no model is the safetensors reader's error.
  const std::string junk(bytes_.size(), 'j');
  write_split_file(split(), as_span(junk), kPartBytes);
  EXPECT_NE(load_error(split()).find("header length"), std::string::npos) << load_error(split());
  EXPECT_EQ(run_tessera("model split " + split().string()).status, 1);
}

// The C API reads a split model by its path too, and a bad part is an I/O error naming it.
TEST_F(SplitFileTest, TheCApiLoadsASplitModelAndNamesABadPart) {
  write_split_file(split(), as_span(bytes_), kPartBytes);
  LogSink sink;
  tsr_context_desc cd = context_desc(&sink);
  tsr_context ctx = create_context(cd);
  const std::string path = split().string();
  tsr_model_desc d = model_file_desc(path.c_str());
  tsr_model model{0};
  ASSERT_EQ(tsr_model_load(ctx, &d, &model), TSR_SUCCESS) << tsr_get_last_error();
  tsr_model_info info;
  std::memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  ASSERT_EQ(tsr_model_get_info(model, &info), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(info.class_count, 2u);
  EXPECT_EQ(tsr_model_destroy(model), TSR_SUCCESS);

  fs::remove(part(2));
  EXPECT_EQ(tsr_model_load(ctx, &d, &model), TSR_ERROR_IO);
  EXPECT_NE(std::string(tsr_get_last_error())
                .find("part 3 of " + std::to_string(count()) + " '" + part(2).string() + "' is missing"),
            std::string::npos)
      << tsr_get_last_error();
  EXPECT_EQ(tsr_context_destroy(ctx), TSR_SUCCESS);
  sink.expect_no_validation_messages();
}

// The whole file is read when both are there; a path with neither gives the usual error.
TEST_F(SplitFileTest, TheWholeFileComesBeforeItsParts) {
  write_split_file(whole(), as_span(std::string(100, 'p')), 10);
  EXPECT_EQ(load_error(whole()), "");
  EXPECT_EQ(load_error(dir_ / "absent.safetensors"),
            (dir_ / "absent.safetensors").string() + ": cannot open: No such file or directory");
}

// A split that fails part-way leaves none of its parts and no manifest; one that cannot be made
// writes nothing.
TEST_F(SplitFileTest, AFailedSplitLeavesNothingBehind) {
  write_split_file(split(), as_span(bytes_), kPartBytes);  // an earlier split, to be replaced
  fs::remove(part(2));
  fs::create_directories(part(2) / "in-the-way");  // the rename over it fails
  EXPECT_THROW(write_split_file(split(), as_span(bytes_), kPartBytes), Error);
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir_ / "split")) left.push_back(e.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{part(2).filename().string()});

  EXPECT_THROW(
      {
        try {
          write_split_file(split(), as_span(bytes_), 1);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("it would take " + std::to_string(bytes_.size()) +
                                               " parts, and the most is 999"),
                    std::string::npos);
          throw;
        }
      },
      Error);
  EXPECT_THROW(write_split_file(split(), as_span(bytes_), 0), Error);
  CommandResult r = run_tessera("model split " + whole().string() + " --part-bytes 0");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--part-bytes"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace tessera::testing
