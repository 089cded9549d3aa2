// Whole generations in portable mode (docs/portable.md): for every row of the published table
// tests/portable/hashes.txt (docs/portable-hashes.md) - the bundled colour and material models
// at 32x32 and 64x64, every sampler, with and without classifier-free guidance - the device's
// image has the bits of the test oracle's (tests/portable/oracle.hpp, plain C++ fp32) and the
// table's hashes. A mismatch of the bits is localised by test_portable_ops.cpp; a mismatch of
// the hashes alone means the table is stale (regenerate it with `tessera hash`,
// docs/portable-hashes.md).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "portable/oracle.hpp"
#include "portable/portable_test_support.hpp"
#include "support/run_command.hpp"
#include "support/scratch_dir.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/image_io.hpp"
#include "tessera/material_images.hpp"
#include "tessera/model_file.hpp"
#include "tessera/output_hash.hpp"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;

fs::path source_dir() { return reference_source_dir(); }  // $TESSERA_SOURCE_DIR for a relocated bundle
fs::path hash_table() { return source_dir() / "tests/portable/hashes.txt"; }

// The number of elements whose bits differ, and a description of the first.
class PortableGenerationTest : public VulkanTest {
 protected:
  void SetUp() override {
    VulkanTest::SetUp();
    mode_.emplace(ctx(), ctx().portable());  // generate() sets the mode; TearDown restores it
  }
  void TearDown() override {
    mode_.reset();
    VulkanTest::TearDown();
  }
  const LoadedModel& device_model(const std::string& name) {
    auto it = device_models_.find(name);
    if (it == device_models_.end())
      it = device_models_.emplace(name, load_model(ctx(), source_dir() / "models" / name)).first;
    return it->second;
  }
  std::vector<float> generate(const HashCase& g, bool portable) {
    ctx().set_portable(portable);
    const LoadedModel& model = device_model(g.model);
    const GenerationRequest request = hash_case_request(g, model.info);
    Sampler sampler(ctx(), model.info.config, *model.params, 1, request.height, request.width, request.options);
    return sampler.sample(request.sample_request());
  }

 private:
  std::optional<PortableModeScope> mode_;
  std::map<std::string, LoadedModel> device_models_;
};

TEST_F(PortableGenerationTest, DeviceOracleAndPublishedHashesAgree) {
  const std::vector<HashRow> rows = read_hash_table(hash_table());
  std::map<std::string, oracle::Model> oracle_models;
  double device_seconds = 0, oracle_seconds = 0;
  for (const HashRow& want : rows) {
    const HashCase& g = want.generation;
    SCOPED_TRACE(format_hash_row(want));
    auto t0 = std::chrono::steady_clock::now();
    const std::vector<float> device = generate(g, true);
    auto t1 = std::chrono::steady_clock::now();
    auto it = oracle_models.find(g.model);
    if (it == oracle_models.end())
      it = oracle_models.emplace(g.model, oracle::load_model(source_dir() / "models" / g.model)).first;
    const std::vector<float> expected = oracle::sample(it->second, hash_case_request(g, it->second.info));
    auto t2 = std::chrono::steady_clock::now();
    device_seconds += std::chrono::duration<double>(t1 - t0).count();
    oracle_seconds += std::chrono::duration<double>(t2 - t1).count();
    EXPECT_EQ(bit_differences(device, expected), "") << "the device and the oracle disagree";
    const HashRow got = hash_image(g, device, it->second.info.config.maps);
    EXPECT_EQ(hash_hex(got.f32), hash_hex(want.f32)) << "f32 hash; this device's row: " << format_hash_row(got);
    EXPECT_EQ(hash_hex(got.pixels), hash_hex(want.pixels)) << "pixels hash; this device's row: " << format_hash_row(got);
  }
  std::printf("%zu generations: device %.1f s, oracle %.1f s\n", rows.size(), device_seconds, oracle_seconds);
}

// The table tells the modes apart: fast mode's kernels round differently (fused multiply-adds,
// driver exp, tiled sums), so its image of the first row has other bits. This is the failure the
// table exists to catch, shown on the device at hand.
TEST_F(PortableGenerationTest, FastModeDoesNotMatchTheTable) {
  const HashRow want = read_hash_table(hash_table()).front();
  const HashRow fast =
      hash_image(want.generation, generate(want.generation, false), device_model(want.generation.model).info.config.maps);
  EXPECT_NE(hash_hex(fast.f32), hash_hex(want.f32)) << format_hash_row(fast);
}

// `tessera hash --table` recomputes every row on the device and says which match: exit status 0
// when all do, 1 (and MISMATCH on the row) when one does not.
TEST(PortableHashCliTest, TableRowsAreCheckedOnTheDevice) {
  const HashRow row = read_hash_table(hash_table()).front();
  HashRow wrong = row;
  wrong.f32 ^= 1;
  const fs::path table = fs::temp_directory_path() / ("tessera-hashes-" + std::to_string(::getpid()) + ".txt");
  std::ofstream(table) << "# a comment\n" << format_hash_row(row) << "\n\n" << format_hash_row(wrong) << "\n";
  const std::string models = "--models " + (source_dir() / "models").string();
  CommandResult r = run_tessera("hash --table " + table.string() + " " + models);
  fs::remove(table);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(format_hash_row(row) + "  ok\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(format_hash_row(row) + "  MISMATCH (table: " + hash_hex(wrong.f32)), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("1 of 2 rows differ from the table"), std::string::npos) << r.output;
}

// A row's pixels hash is the hash of what `tessera sample --portable` writes for the row's
// generation, read back from the files: the colour model's RGBA PNG, and the material model's
// map PNGs in the model's map order (height 16-bit, big-endian as PNG stores it). The first row
// of each model in the table is checked.
TEST(PortableHashCliTest, PixelsHashIsTheHashOfThePngsSampleWrites) {
  const fs::path dir = fresh_scratch_dir("portable-pngs");
  std::map<std::string, HashRow> first_rows;
  for (const HashRow& row : read_hash_table(hash_table())) first_rows.emplace(row.generation.model, row);
  ASSERT_GE(first_rows.size(), 2u) << "the table has rows of the colour and the material model";
  for (const auto& [model, row] : first_rows) {
    SCOPED_TRACE(format_hash_row(row));
    const HashCase& g = row.generation;
    std::ostringstream args;
    args << "sample --portable --model " << (source_dir() / "models" / model).string() << " --class " << g.class_name
         << " --seed " << g.seed << " --size " << g.width << "x" << g.height << " --sampler " << to_string(g.sampler)
         << " --steps " << g.steps << " --guidance " << g.guidance << " --maps albedo,height,roughness --out "
         << (dir / "out.png").string();
    std::string command = args.str();
    const ModelInfo info = read_model_info(source_dir() / "models" / model);
    const bool material = info.config.maps.size() > 1;
    if (!material) command.erase(command.find(" --maps "), std::string(" --maps albedo,height,roughness").size());
    CommandResult r = run_tessera(command);
    ASSERT_EQ(r.status, 0) << r.output;
    std::vector<uint8_t> samples;
    auto append = [&](const fs::path& file, int channels, bool rgba) {
      const PixelImage image = decode_image(file);
      ASSERT_EQ(image.width, g.width) << file;
      const size_t n = size_t(image.width) * image.height;
      for (size_t i = 0; i < n; ++i) {
        for (int c = 0; c < channels; ++c) {
          if (image.bits == 16) {
            const uint16_t v = static_cast<const uint16_t*>(image.samples.get())[3 * i + c];
            samples.push_back(uint8_t(v >> 8));
            samples.push_back(uint8_t(v));
          } else {
            samples.push_back(static_cast<const uint8_t*>(image.samples.get())[3 * i + c]);
          }
        }
        if (rgba) samples.push_back(255);
      }
    };
    if (!material) {
      append(dir / "out.png", 3, true);
    } else {
      for (MapKind kind : info.config.maps)
        append(dir / ("out_" + std::string(map_spec(kind).name) + ".png"), map_spec(kind).channels, false);
    }
    EXPECT_EQ(hash_hex(fnv1a64(samples)), hash_hex(row.pixels));
  }
  remove_scratch_dir(dir);
}

// Refusals come before the device starts and name what is wrong: the row, the option.
TEST(PortableHashCliTest, BadRowsAndOptionsAreNamed) {
  const fs::path table = fs::temp_directory_path() / ("tessera-bad-hashes-" + std::to_string(::getpid()) + ".txt");
  std::ofstream(table) << "default.safetensors nope 0 32x32 ddpm 3 1 0123456789abcdef 0123456789abcdef\n";
  CommandResult r = run_tessera("hash --table " + table.string() + " --models " + (source_dir() / "models").string());
  fs::remove(table);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("table row 'default.safetensors nope 0 32x32 ddpm 3 1 0123456789abcdef 0123456789abcdef': "
                          "class: unknown class 'nope'"),
            std::string::npos)
      << r.output;
  r = run_tessera("hash --table " + hash_table().string() + " --seed 3");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("--seed names a single image; --table gives every row"), std::string::npos) << r.output;
  r = run_tessera("hash --size 33x32");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("--size 33x32 is not a multiple of 4"), std::string::npos) << r.output;
}

TEST(PortableHashTableTest, RowsRoundTripAndBadRowsNameTheField) {
  HashRow row{{"default.safetensors", "grass", 7, 64, 32, SamplerKind::Ddim, 3, 2.5}, 0x0123456789abcdefull, 42};
  const std::string text = format_hash_row(row);
  EXPECT_EQ(text, "default.safetensors grass 7 64x32 ddim 3 2.5 0123456789abcdef 000000000000002a");
  const HashRow back = parse_hash_row(text, "t.txt", 1);
  EXPECT_EQ(format_hash_row(back), text);
  auto message = [](const std::string& line) {
    try {
      parse_hash_row(line, "t.txt", 4);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("default.safetensors grass 7 64x32 ddim 3 2.5 0123456789abcdef").find("t.txt:4: expected 9 fields"),
            std::string::npos);
  EXPECT_NE(message("m c 7 64x32 euler 3 1 0123456789abcdef 0123456789abcdef").find("sampler 'euler'"),
            std::string::npos);
  EXPECT_NE(message("m c 7 64by32 ddim 3 1 0123456789abcdef 0123456789abcdef").find("size '64by32'"),
            std::string::npos);
  EXPECT_NE(message("m c -1 64x32 ddim 3 1 0123456789abcdef 0123456789abcdef").find("seed '-1'"), std::string::npos);
  EXPECT_NE(message("m c 7 64x32 ddim 3 1 0123456789abcdeg 0123456789abcdef").find("f32_hash"), std::string::npos);
  EXPECT_NE(message("m c 7 64x32 ddim 0 1 0123456789abcdef 0123456789abcdef").find("steps '0'"), std::string::npos);
  // FNV-1a 64's published check values.
  EXPECT_EQ(fnv1a64({}), 0xcbf29ce484222325ull);
  const uint8_t a[] = {'a'};
  EXPECT_EQ(fnv1a64(a), 0xaf63dc4c8601ec8cull);
}

}  // namespace
}  // namespace tessera::testing
