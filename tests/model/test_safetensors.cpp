// Safetensors reader/writer: round trips, a file written by an independent Python writer,
// every hostile-header case the loader must name, atomic writes, and the config checker.
// No Vulkan: plain host tests.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tessera/error.hpp"
#include "tessera/safetensors.hpp"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::vector<std::byte> to_bytes(const std::string& s) {
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

// length field + header + `data_bytes` bytes of data
std::vector<std::byte> file_with_header(const std::string& header, size_t data_bytes = 0) {
  std::string raw(8, '\0');
  for (int i = 0; i < 8; ++i) raw[i] = static_cast<char>((uint64_t{header.size()} >> (8 * i)) & 0xFF);
  raw += header;
  raw.append(data_bytes, '\x5a');
  return to_bytes(raw);
}

std::vector<std::byte> file_with_length(uint64_t length, const std::string& rest) {
  std::string raw(8, '\0');
  for (int i = 0; i < 8; ++i) raw[i] = static_cast<char>((length >> (8 * i)) & 0xFF);
  return to_bytes(raw + rest);
}

// Parses `bytes`, expects a FormatError whose message holds every part; returns the error's problems.
std::vector<std::string> expect_format_error(const std::vector<std::byte>& bytes, std::vector<std::string> parts) {
  try {
    SafetensorsFile::parse(bytes, "hostile.safetensors");
  } catch (const FormatError& e) {
    const std::string what = e.what();
    EXPECT_TRUE(contains(what, "hostile.safetensors: ")) << what;
    for (const std::string& p : parts) EXPECT_TRUE(contains(what, p)) << "missing '" << p << "' in: " << what;
    return e.problems();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected FormatError, got: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected FormatError, parse succeeded";
  return {};
}

// A fresh directory removed at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() / ("tessera-st-" + std::to_string(::getpid()) + "-" + test->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, ec);
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  fs::path path_;
};

std::vector<std::byte> random_bytes(std::mt19937& rng, size_t n) {
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng() & 0xFF);
  return out;
}

std::vector<std::byte> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

// --- round trip ----------------------------------------------------------------------------------

struct OwnedTensor {
  std::string name;
  SafetensorsDType dtype;
  Shape shape;
  std::vector<std::byte> bytes;
};

std::vector<OwnedTensor> random_model(std::mt19937& rng) {
  std::vector<OwnedTensor> t = {
      {"conv_in.weight", SafetensorsDType::F32, {5, 3, 3, 3}, {}},
      {"conv_in.bias", SafetensorsDType::F32, {5}, {}},
      {"time_embed.0.weight", SafetensorsDType::F16, {7, 3}, {}},
      {"norm.weight", SafetensorsDType::BF16, {3}, {}},
      {"class_table", SafetensorsDType::I32, {3, 1}, {}},
      {"mask", SafetensorsDType::U8, {13}, {}},
      {"step", SafetensorsDType::U64, {}, {}},
      {"empty", SafetensorsDType::F32, {0, 4}, {}},
  };
  for (OwnedTensor& x : t) {
    int64_t n = 1;
    for (int64_t d : x.shape) n *= d;
    x.bytes = random_bytes(rng, static_cast<size_t>(n) * safetensors_dtype_size(x.dtype));
  }
  return t;
}

std::vector<SafetensorsTensorData> views(const std::vector<OwnedTensor>& owned) {
  std::vector<SafetensorsTensorData> out;
  for (const OwnedTensor& t : owned) out.push_back({t.name, t.dtype, t.shape, t.bytes});
  return out;
}

const std::map<std::string, std::string> kMetadata = {
    {"tessera.format_version", "1"},
    {"tessera.config", R"({"base_channels":64,"channel_mult":[1,2,2,2]})"},
    {"tessera.classes", R"(["brick","moss","\u00e9corce"])"},
    {"tessera.provenance.dataset", "textures/ \"quoted\" \n newline, ünïcode"},
};

TEST(Safetensors, RoundTripKeepsBytesShapesAndMetadata) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  ScratchDir dir;
  const auto model = random_model(rng);
  const fs::path path = dir.path() / "model.safetensors";
  write_safetensors(path, views(model), kMetadata);

  SafetensorsFile file = SafetensorsFile::load(path);
  EXPECT_EQ(file.source(), path.string());
  EXPECT_EQ(file.metadata(), kMetadata);
  EXPECT_EQ(file.require_metadata(kMetadataFormatVersion), "1");
  EXPECT_TRUE(file.notes().empty()) << file.notes().front();
  ASSERT_EQ(file.tensors().size(), model.size());
  for (const OwnedTensor& want : model) {
    const SafetensorsTensor& got = file.tensor(want.name);
    EXPECT_EQ(got.dtype, want.dtype) << want.name;
    EXPECT_EQ(got.shape, want.shape) << want.name;
    ASSERT_EQ(got.data.size(), want.bytes.size()) << want.name;
    EXPECT_TRUE(std::equal(got.data.begin(), got.data.end(), want.bytes.begin())) << want.name;
    // The data section starts 8-aligned and every tensor at a multiple of its element size.
    EXPECT_EQ(got.data_begin % safetensors_dtype_size(got.dtype), 0u) << want.name;
  }
  EXPECT_EQ((8 + file.header_bytes()) % 8, 0u);
  for (size_t i = 1; i < file.tensors().size(); ++i) EXPECT_LT(file.tensors()[i - 1].name, file.tensors()[i].name);

  // The file is exactly serialize_safetensors' output, and that does not depend on input order.
  const std::vector<std::byte> on_disk = read_all(path);
  EXPECT_EQ(on_disk, serialize_safetensors(views(model), kMetadata));
  auto reversed = views(model);
  std::reverse(reversed.begin(), reversed.end());
  EXPECT_EQ(on_disk, serialize_safetensors(reversed, kMetadata));

  // Parsing from memory gives the same result, and its spans outlive the input buffer.
  std::vector<std::byte> copy = on_disk;
  SafetensorsFile from_memory = SafetensorsFile::parse(copy);
  copy.assign(copy.size(), std::byte{0});
  EXPECT_TRUE(std::equal(from_memory.tensor("mask").data.begin(), from_memory.tensor("mask").data.end(),
                         model[5].bytes.begin()));
  EXPECT_EQ(from_memory.source(), "<memory>");
}

TEST(Safetensors, EmptyFileWithoutTensorsOrMetadataRoundTrips) {
  const std::vector<std::byte> bytes = serialize_safetensors({}, {});
  SafetensorsFile file = SafetensorsFile::parse(bytes);
  EXPECT_TRUE(file.tensors().empty());
  EXPECT_TRUE(file.metadata().empty());
  EXPECT_EQ(file.find("x"), nullptr);
  EXPECT_THROW(file.tensor("x"), FormatError);
  EXPECT_THROW(file.require_metadata(kMetadataConfig), FormatError);
}

// --- file written by the independent Python writer -----------------------------------------------

const fs::path kFixture = fs::path(__FILE__).parent_path().parent_path() / "fixtures" / "reference.safetensors";
const fs::path kFixtureScript = fs::path(__FILE__).parent_path().parent_path().parent_path() / "tools" / "reference" /
                                "write_safetensors_fixture.py";

template <typename T>
std::vector<T> values_of(const SafetensorsTensor& t) {
  EXPECT_EQ(t.data.size() % sizeof(T), 0u);
  std::vector<T> out(t.data.size() / sizeof(T));
  std::memcpy(out.data(), t.data.data(), t.data.size());
  return out;
}

TEST(Safetensors, ReadsFileWrittenByPythonReferenceWriter) {
  SafetensorsFile file = SafetensorsFile::load(kFixture);
  EXPECT_TRUE(file.notes().empty());
  EXPECT_EQ(file.require_metadata(kMetadataFormatVersion), "1");
  EXPECT_EQ(file.require_metadata(kMetadataClasses), R"(["brick", "moss"])");
  EXPECT_TRUE(contains(file.require_metadata(kMetadataConfig), R"("padding":"circular")"));
  EXPECT_EQ(file.require_metadata("tessera.provenance.writer"), "tools/reference/write_safetensors_fixture.py");

  const auto& w = file.tensor("conv_in.weight");
  EXPECT_EQ(w.dtype, SafetensorsDType::F32);
  EXPECT_EQ(w.shape, (Shape{2, 3}));
  EXPECT_EQ(values_of<float>(w), (std::vector<float>{-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f}));
  EXPECT_EQ(values_of<float>(file.tensor("scalar")), std::vector<float>{3.25f});
  EXPECT_EQ(file.tensor("scalar").shape, Shape{});
  EXPECT_EQ(file.tensor("empty").shape, Shape{0});
  EXPECT_TRUE(file.tensor("empty").data.empty());
  EXPECT_EQ(values_of<int32_t>(file.tensor("labels")), (std::vector<int32_t>{-1, 0, 7, 2147483647}));
  // F16 1.0, -2.5, 65504 and BF16 1.0, -0.5, 3.0, 0.15625 as raw bit patterns.
  EXPECT_EQ(file.tensor("time_embed.bias").dtype, SafetensorsDType::F16);
  EXPECT_EQ(values_of<uint16_t>(file.tensor("time_embed.bias")), (std::vector<uint16_t>{0x3C00, 0xC100, 0x7BFF}));
  EXPECT_EQ(file.tensor("norm.weight").dtype, SafetensorsDType::BF16);
  EXPECT_EQ(values_of<uint16_t>(file.tensor("norm.weight")), (std::vector<uint16_t>{0x3F80, 0xBF00, 0x4040, 0x3E20}));
  EXPECT_EQ(values_of<uint8_t>(file.tensor("mask")), (std::vector<uint8_t>{0, 1, 2, 254, 255}));
  EXPECT_EQ(runtime_dtype(SafetensorsDType::BF16), std::nullopt);
  EXPECT_EQ(runtime_dtype(SafetensorsDType::F16), DType::F16);

  // Our writer reproduces the reference layout: the same tensors and metadata give the same bytes
  // except for the JSON key order inside each entry, so compare after a re-read instead.
  std::vector<SafetensorsTensorData> again;
  for (const SafetensorsTensor& t : file.tensors()) again.push_back({t.name, t.dtype, t.shape, t.data});
  SafetensorsFile reread = SafetensorsFile::parse(serialize_safetensors(again, file.metadata()));
  for (const SafetensorsTensor& t : file.tensors())
    EXPECT_EQ(reread.tensor(t.name).data_begin, t.data_begin) << t.name << " placed differently than the reference";
}

TEST(Safetensors, CommittedFixtureIsWhatTheScriptWrites) {
  if (std::system("python3 -c 'import json, struct' >/dev/null 2>&1") != 0) GTEST_SKIP() << "no python3";
  ScratchDir dir;
  const fs::path out = dir.path() / "fixture.safetensors";
  const std::string command = "python3 '" + kFixtureScript.string() + "' '" + out.string() + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  EXPECT_EQ(read_all(out), read_all(kFixture)) << "regenerate with tools/reference/write_safetensors_fixture.py";
}

// --- hostile files ----------------------------------------------------------------------------------

TEST(SafetensorsHostile, ShorterThanLengthField) {
  for (size_t n = 0; n < 8; ++n)
    expect_format_error(std::vector<std::byte>(n),
                        {"file is " + std::to_string(n) + " bytes, shorter than the 8-byte"});
}

TEST(SafetensorsHostile, EveryTruncationOfAValidFileIsRejected) {
  const std::vector<std::byte> whole = read_all(kFixture);
  ASSERT_GT(whole.size(), 100u);
  for (size_t n = 0; n < whole.size(); ++n) {
    std::vector<std::byte> prefix(whole.begin(), whole.begin() + n);
    EXPECT_THROW(SafetensorsFile::parse(prefix), FormatError) << "prefix of " << n << " bytes";
  }
}

TEST(SafetensorsHostile, HeaderLengthZeroHugeOrPastTheEnd) {
  expect_format_error(file_with_length(0, "{}"), {"header length is 0"});
  expect_format_error(file_with_length(uint64_t{1} << 63, "{}"),
                      {"header length 9223372036854775808 exceeds the limit of 100000000 bytes"});
  expect_format_error(file_with_length(100'000'001, "{}"), {"exceeds the limit"});
  expect_format_error(file_with_length(1000, std::string(50, ' ')),
                      {"header length 1000 runs past the end of the file (50 bytes follow the length field)"});
}

TEST(SafetensorsHostile, HeaderNotUtf8NotJsonNotObject) {
  expect_format_error(file_with_header("{\"a\xff\":1}"), {"header is not valid UTF-8 (byte 3 of the header)"});
  expect_format_error(file_with_header("{\"\xc0\xaf\":1}"), {"not valid UTF-8"});      // overlong '/'
  expect_format_error(file_with_header("{\"\xed\xa0\x80\":1}"), {"not valid UTF-8"});  // surrogate
  expect_format_error(file_with_header("{\"a\":"), {"header is not valid JSON: ", "line 1"});
  expect_format_error(file_with_header("{} {}"), {"header is not valid JSON"});
  expect_format_error(file_with_header(std::string("{}\0\0", 4)), {"header is not valid JSON"});
  expect_format_error(file_with_header("[1,2]"), {"header is an array, not a JSON object"});
  expect_format_error(file_with_header("\"text\""), {"header is a string, not a JSON object"});
  expect_format_error(file_with_header("17"), {"header is an integer, not a JSON object"});
}

TEST(SafetensorsHostile, UnknownDtypeAndIllTypedFields) {
  expect_format_error(file_with_header(R"({"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", 4),
                      {"tensor 'a': dtype 'F33' unknown"});
  expect_format_error(file_with_header(R"({"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", 4),
                      {"tensor 'a': dtype is an integer, not a string"});
  expect_format_error(file_with_header(R"({"a":{"dtype":"F32","shape":"1","data_offsets":[0,4]}})", 4),
                      {"tensor 'a': shape is a string, not an array of integers"});
  expect_format_error(file_with_header(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4),
                      {"tensor 'a': shape[0] is a non-integer number, not an integer"});
  expect_format_error(file_with_header(R"({"a":{"dtype":"F32","shape":[[1]],"data_offsets":[0,4]}})", 4),
                      {"tensor 'a': shape[0] is an array, not an integer"});
  expect_format_error(file_with_header(R"({"a":[1,2]})"),
                      {"tensor 'a': entry is an array, not an object with dtype, shape and data_offsets"});
  auto problems = expect_format_error(file_with_header(R"({"a":{}})"), {"3 problems"});
  EXPECT_EQ(problems,
            (std::vector<std::string>{"tensor 'a': missing field 'dtype'", "tensor 'a': missing field 'shape'",
                                      "tensor 'a': missing field 'data_offsets'"}));
}

TEST(SafetensorsHostile, NegativeAndOverflowingShapes) {
  expect_format_error(file_with_header(R"({"a":{"dtype":"F32","shape":[2,-3],"data_offsets":[0,0]}})"),
                      {"tensor 'a': shape[1] is negative (-3)"});
  // 2^40 * 2^40 elements overflow int64; 2^62 elements fit, but not their 2^64 bytes of F32.
  expect_format_error(
      file_with_header(R"({"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,0]}})"),
      {"tensor 'a': shape [1099511627776,1099511627776] has more elements than fit in 64 bits"});
  expect_format_error(file_with_header(R"({"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})"),
                      {"tensor 'a': shape [4611686018427387904] F32 needs more bytes than fit in 64 bits"});
  expect_format_error(file_with_header(R"({"a":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,0]}})"),
                      {"tensor 'a': shape[0] = 18446744073709551615 is too large"});
  expect_format_error(file_with_header(R"({"a":{"dtype":"F32","shape":[1e300],"data_offsets":[0,0]}})"),
                      {"shape[0] is a non-integer number"});
}

TEST(SafetensorsHostile, SizeDoesNotMatchShape) {
  expect_format_error(file_with_header(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})", 12),
                      {"tensor 'w': data_offsets [0,12) hold 12 bytes, shape [2,2] F32 needs 16"});
}

TEST(SafetensorsHostile, BadDataOffsets) {
  const std::string prefix = R"({"a":{"dtype":"U8","shape":[4],"data_offsets":)";
  expect_format_error(file_with_header(prefix + "[0,4]}}", 3),
                      {"tensor 'a': data_offsets [0,4) end beyond the data section (3 bytes)"});
  expect_format_error(file_with_header(prefix + "[18446744073709551612,18446744073709551615]}}", 3),
                      {"end beyond the data section"});
  expect_format_error(file_with_header(prefix + "[4,0]}}", 4), {"tensor 'a': data_offsets begin 4 > end 0"});
  for (const char* bad : {"[4]", "[0,4,8]", "[0,\"4\"]", "[-1,3]", "{}", "4", "[0,4.0]"})
    expect_format_error(file_with_header(prefix + bad + "}}", 4),
                        {"tensor 'a': data_offsets is not an array of two non-negative integers"});
}

TEST(SafetensorsHostile, OverlappingTensors) {
  expect_format_error(file_with_header(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                                       R"("b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]},)"
                                       R"("c":{"dtype":"U8","shape":[4],"data_offsets":[8,12]},)"
                                       R"("z":{"dtype":"U8","shape":[0],"data_offsets":[2,2]}})",
                                       12),
                      {"hostile.safetensors: tensors 'a' [0,8) and 'b' [4,8) overlap"});
  // A tensor inside another: reported against the one that covers it.
  expect_format_error(
      file_with_header(R"({"big":{"dtype":"U8","shape":[10],"data_offsets":[0,10]},)"
                       R"("mid":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},)"
                       R"("end":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}})",
                       10),
      {"2 problems", "tensors 'big' [0,10) and 'mid' [2,4) overlap", "tensors 'big' [0,10) and 'end' [6,8) overlap"});
}

TEST(SafetensorsHostile, DuplicateNamesAndFields) {
  expect_format_error(file_with_header(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                       R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},)"
                                       R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                                       2),
                      {"tensor name 'a' appears 3 times"});
  expect_format_error(file_with_header(R"({"a":{"dtype":"U8","dtype":"F32","shape":[1],"data_offsets":[0,1]}})", 1),
                      {"tensor 'a': field 'dtype' appears more than once"});
  expect_format_error(file_with_header(R"({"__metadata__":{"k":"1","k":"2"}})"),
                      {"metadata key 'k' appears more than once"});
  expect_format_error(file_with_header(R"({"__metadata__":{},"__metadata__":{}})"), {"__metadata__ appears 2 times"});
}

TEST(SafetensorsHostile, MetadataMustBeStrings) {
  auto problems = expect_format_error(
      file_with_header(R"({"__metadata__":{"tessera.format_version":1,"ok":"x","tessera.config":{"a":1}}})"),
      {"2 problems", "metadata 'tessera.config' is an object, not a string",
       "metadata 'tessera.format_version' is an integer, not a string"});
  EXPECT_EQ(problems.size(), 2u);
  expect_format_error(file_with_header(R"({"__metadata__":["a"]})"),
                      {"__metadata__ is an array, not an object of strings"});
}

TEST(SafetensorsHostile, AllProblemsReportedTogether) {
  expect_format_error(file_with_header(R"({"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]},)"
                                       R"("b":{"dtype":"F32","shape":[-1],"data_offsets":[4,8]},)"
                                       R"("c":{"dtype":"F32","shape":[1],"data_offsets":[8,99]}})",
                                       8),
                      {"hostile.safetensors: 3 problems: tensor 'a': dtype 'F33' unknown; "
                       "tensor 'b': shape[0] is negative (-1); "
                       "tensor 'c': data_offsets [8,99) end beyond the data section (8 bytes)"});
}

TEST(SafetensorsHostile, ThousandsOfBadEntriesGiveABoundedMessage) {
  std::string header = "{";
  for (int i = 0; i < 5000; ++i)
    header +=
        (i ? "," : "") + std::string("\"t") + std::to_string(i) + R"(":{"dtype":"X","shape":[],"data_offsets":[0,0]})";
  header += "}";
  auto problems = expect_format_error(file_with_header(header), {"and 4936 more"});
  EXPECT_EQ(problems.size(), 65u);
}

TEST(SafetensorsHostile, ManyEntriesParseInLinearTime) {
  // 20k entries: a parser that rescans the header object per entry (nlohmann's DOM callback
  // mode does) would take minutes here; this must stay well under a second in release.
  std::string header = "{";
  for (int i = 0; i < 20000; ++i)
    header += (i ? "," : "") + std::string("\"t") + std::to_string(i) +
              R"(":{"dtype":"U8","shape":[0],"data_offsets":[0,0]})";
  header += "}";
  SafetensorsFile file = SafetensorsFile::parse(file_with_header(header));
  EXPECT_EQ(file.tensors().size(), 20000u);
  EXPECT_NE(file.find("t19999"), nullptr);
}

TEST(SafetensorsHostile, DeepNestingIsRefusedNotBuilt) {
  const int depth = 200000;
  std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":)" + std::string(depth, '[') +
                       std::string(depth, ']') + "}}";
  expect_format_error(file_with_header(header, 4), {"header JSON nests deeper than 4 levels"});
  // Deep nesting in the top level too.
  expect_format_error(file_with_header(std::string(depth, '[') + std::string(depth, ']')),
                      {"nests deeper than 4 levels"});
}

TEST(SafetensorsHostile, HostileNamesAreShownBounded) {
  const std::string long_name(1000, 'n');
  expect_format_error(file_with_header("{\"" + long_name + R"(":{"dtype":"Q","shape":[],"data_offsets":[0,0]}})"),
                      {"'" + std::string(96, 'n') + "...(1000 bytes)'"});
  expect_format_error(file_with_header(R"({"a\u0000\n":{"dtype":"Q","shape":[],"data_offsets":[0,0]}})"),
                      {"tensor 'a\\x00\\x0A'"});
}

TEST(Safetensors, GapsAndUnknownFieldsAreAcceptedWithNotes) {
  SafetensorsFile file =
      SafetensorsFile::parse(file_with_header(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[4,6],"extra":1},)"
                                              R"("b":{"dtype":"U8","shape":[2],"data_offsets":[8,10]}})",
                                              16));
  ASSERT_EQ(file.tensors().size(), 2u);
  const auto& notes = file.notes();
  auto has = [&](const std::string& s) {
    return std::any_of(notes.begin(), notes.end(), [&](const std::string& n) { return contains(n, s); });
  };
  EXPECT_TRUE(has("4 unused bytes before tensor 'a'"));
  EXPECT_TRUE(has("2 unused bytes before tensor 'b'"));
  EXPECT_TRUE(has("6 unused bytes after the last tensor"));
  EXPECT_TRUE(has("tensor 'a': ignored unknown field 'extra'"));
}

TEST(SafetensorsHostile, LoadReportsMissingAndUnreadableFiles) {
  ScratchDir dir;
  try {
    SafetensorsFile::load(dir.path() / "absent.safetensors");
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "absent.safetensors: cannot open")) << e.what();
  }
  try {
    SafetensorsFile::load(dir.path());
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), dir.path().string() + ": is a directory")) << e.what();
  }
  try {
    SafetensorsFile::load("/dev/null");
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "/dev/null: not a regular file")) << e.what();
  }
  std::ofstream(dir.path() / "short.safetensors") << "abc";
  try {
    SafetensorsFile::load(dir.path() / "short.safetensors");
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_TRUE(contains(e.what(), "short.safetensors: file is 3 bytes")) << e.what();
  }
}

// --- atomic writes ------------------------------------------------------------------------------------

std::vector<SafetensorsTensorData> one_tensor(const std::vector<std::byte>& bytes) {
  return {{"w", SafetensorsDType::U8, {static_cast<int64_t>(bytes.size())}, bytes}};
}

TEST(SafetensorsWrite, MissingDirectoryFailsClearlyAndCreatesNothing) {
  ScratchDir dir;
  const fs::path path = dir.path() / "no-such-dir" / "model.safetensors";
  try {
    write_safetensors(path, one_tensor(std::vector<std::byte>(4)), {});
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "cannot write '" + path.string() + "': creating temporary file")) << e.what();
    EXPECT_TRUE(contains(e.what(), "No such file or directory")) << e.what();
  }
  EXPECT_TRUE(dir.entries().empty());
}

TEST(SafetensorsWrite, ReadOnlyDirectoryFailsClearlyAndLeavesNoTemporary) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  ScratchDir dir;
  const fs::path path = dir.path() / "model.safetensors";
  write_safetensors(path, one_tensor(std::vector<std::byte>(4, std::byte{1})), {});
  fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
  try {
    write_safetensors(path, one_tensor(std::vector<std::byte>(8, std::byte{2})), {});
    ADD_FAILURE() << "expected Error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "Permission denied")) << e.what();
  }
  fs::permissions(dir.path(), fs::perms::owner_all);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.safetensors"});
  EXPECT_EQ(SafetensorsFile::load(path).tensor("w").data.size(), 4u);
}

TEST(SafetensorsWrite, FailedRenameRemovesTemporaryAndKeepsTarget) {
  // The target is a non-empty directory: everything succeeds up to the rename, which fails.
  ScratchDir dir;
  const fs::path path = dir.path() / "model.safetensors";
  fs::create_directories(path / "inside");
  try {
    write_safetensors(path, one_tensor(std::vector<std::byte>(16)), {});
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "renaming the temporary file over it failed")) << e.what();
  }
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.safetensors"});
  EXPECT_TRUE(fs::is_directory(path / "inside"));
}

TEST(SafetensorsWrite, OverwriteReplacesTheWholeFile) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  ScratchDir dir;
  const fs::path path = dir.path() / "model.safetensors";
  write_safetensors(path, one_tensor(random_bytes(rng, 4096)), {{"k", "long value"}});
  const auto small = random_bytes(rng, 3);
  write_safetensors(path, one_tensor(small), {});
  EXPECT_EQ(read_all(path), serialize_safetensors(one_tensor(small), {}));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.safetensors"});
  // A relative path in the working directory works too (parent_path() is empty).
  const fs::path cwd = fs::current_path();
  fs::current_path(dir.path());
  write_safetensors("relative.safetensors", one_tensor(small), {});
  fs::current_path(cwd);
  EXPECT_EQ(read_all(dir.path() / "relative.safetensors"), read_all(path));
}

TEST(SafetensorsWrite, InvalidTensorsAreRejectedBeforeTouchingTheFile) {
  ScratchDir dir;
  const fs::path path = dir.path() / "model.safetensors";
  const std::vector<std::byte> four(4), five(5);
  write_safetensors(path, one_tensor(four), {});
  const auto before = read_all(path);
  const std::vector<SafetensorsTensorData> bad = {
      {"a", SafetensorsDType::F32, {2}, four},
      {"a", SafetensorsDType::U8, {4}, four},
      {"__metadata__", SafetensorsDType::U8, {5}, five},
      {"neg", SafetensorsDType::U8, {-1}, {}},
  };
  try {
    write_safetensors(path, bad, {});
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    const std::string m = e.what();
    EXPECT_TRUE(contains(m, "tensor 'a': shape [2] F32 needs 8 bytes, data holds 4")) << m;
    EXPECT_TRUE(contains(m, "tensor 'a': given more than once")) << m;
    EXPECT_TRUE(contains(m, "tensor '__metadata__': name is reserved")) << m;
    EXPECT_TRUE(contains(m, "tensor 'neg': invalid shape [-1]")) << m;
  }
  EXPECT_THROW(write_safetensors(path, one_tensor(four), {{"k", "bad \xff utf-8"}}), Error);
  EXPECT_EQ(read_all(path), before);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.safetensors"});
}

// --- config check -----------------------------------------------------------------------------------

TEST(SafetensorsExpected, ReportsEveryMismatchAtOnce) {
  const std::vector<std::byte> w(32 * 3 * 3 * 3 * 4), b(64 * 2), extra(1);
  const std::vector<SafetensorsTensorData> tensors = {
      {"conv_in.weight", SafetensorsDType::F32, {32, 3, 3, 3}, w},
      {"conv_in.bias", SafetensorsDType::F16, {64}, b},
      {"leftover", SafetensorsDType::U8, {1}, extra},
  };
  SafetensorsFile file = SafetensorsFile::parse(serialize_safetensors(tensors, {}), "model.safetensors");
  ExpectedTensors expected;
  expected.expect_tensor("conv_in.weight", SafetensorsDType::F32, {64, 3, 3, 3})
      .expect_tensor("conv_in.bias", SafetensorsDType::F32, {64})
      .expect_tensor("conv_out.weight", SafetensorsDType::F32, {3, 64, 3, 3});
  EXPECT_THROW(expected.expect_tensor("conv_in.bias", SafetensorsDType::F32, {64}), Error);
  EXPECT_EQ(expected.problems(file), (std::vector<std::string>{
                                         "tensor 'conv_in.bias' has dtype F16, config expects F32",
                                         "tensor 'conv_in.weight' has shape [32,3,3,3], config expects [64,3,3,3]",
                                         "missing tensor 'conv_out.weight' (config expects [3,64,3,3] F32)",
                                         "unexpected tensor 'leftover' [1] U8 (not in the config)",
                                     }));
  EXPECT_EQ(expected.problems(file, /*allow_unexpected=*/true).size(), 3u);
  try {
    expected.check(file);
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_TRUE(contains(e.what(), "model.safetensors: 4 problems: tensor 'conv_in.bias'")) << e.what();
  }
  ExpectedTensors matching;
  for (const auto& t : tensors) matching.expect_tensor(t.name, t.dtype, t.shape);
  EXPECT_NO_THROW(matching.check(file));
}

}  // namespace
}  // namespace tessera::testing
