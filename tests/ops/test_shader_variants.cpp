// The kernel table (shaders/variants.txt, read by cmake/ShaderVariants.cmake) against the SPIR-V
// embedded in the runtime; the conv push-constant block (shaders/include/conv2d_push.h) against
// every conv kernel's SPIR-V; and the kernel-variant names.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../../shaders/include/conv2d_push.h"
#include "support/run_command.hpp"
#include "tessera/context.hpp"
#include "tessera/kernel.hpp"

namespace tessera::testing {
namespace {

struct TableKernel {
  std::string source;
  std::string defines;
};

// Runs cmake/ShaderVariants.cmake as a script on `table` (the shaders of the source tree).
CommandResult read_table(const std::string& table) {
  std::string src = TESSERA_SOURCE_DIR;
  return run_command("cmake -DTABLE='" + table + "' -DSHADER_DIR='" + src + "/shaders' -P '" + src +
                     "/cmake/ShaderVariants.cmake'");
}

// "-- kernel NAME SOURCE DEFINES..." lines -> NAME -> {SOURCE, DEFINES}.
std::map<std::string, TableKernel> parse_kernels(const std::string& output) {
  std::map<std::string, TableKernel> kernels;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    std::istringstream row(line);
    std::string dashes, word, name, source, defines, d;
    if (!(row >> dashes >> word >> name >> source) || dashes != "--" || word != "kernel") continue;
    while (row >> d) defines += (defines.empty() ? "" : " ") + d;
    kernels[name] = {source, defines};
  }
  return kernels;
}

std::vector<uint32_t> spirv_words(const std::string& kernel) {
  std::span<const uint32_t> code = embedded_shader(kernel);
  return {code.begin(), code.end()};
}

TEST(ShaderVariants, EveryKernelOfTheTableIsEmbeddedAndNothingElse) {
  CommandResult r = read_table(std::string(TESSERA_SOURCE_DIR) + "/shaders/variants.txt");
  ASSERT_EQ(r.status, 0) << r.output;
  std::map<std::string, TableKernel> table = parse_kernels(r.output);
  std::vector<std::string> names = embedded_shader_names();
  std::set<std::string> embedded(names.begin(), names.end());
  std::set<std::string> listed;
  for (const auto& [name, k] : table) listed.insert(name);
  EXPECT_EQ(listed, embedded);

  // The rows that share a source differ only by their defines, so their SPIR-V must differ:
  // otherwise a define was not applied.
  std::map<std::string, std::vector<std::string>> by_source;
  for (const auto& [name, k] : table) by_source[k.source].push_back(name);
  ASSERT_EQ(by_source["groupnorm_fwd.comp"].size(), 3u);  // widths 1 and 4, and portable
  EXPECT_EQ(table["groupnorm_fwd_vec4"].defines, "GROUPNORM_WIDTH=4");
  for (const auto& [source, kernels] : by_source)
    for (size_t i = 0; i + 1 < kernels.size(); ++i)
      EXPECT_NE(spirv_words(kernels[i]), spirv_words(kernels[i + 1])) << kernels[i] << " / " << kernels[i + 1];
}

TEST(ShaderVariants, MalformedRowsNameTheLineAndTheProblem) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("tessera_variants_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  struct Bad {
    std::string row, message;
  };
  const Bad cases[] = {
      {"lonely", "variants.txt:2: a row needs a kernel name and a source file, got 'lonely'"},
      {"k missing.comp", "variants.txt:2: source 'missing.comp' of kernel 'k' is not a file"},
      {"k ../CMakeLists.txt", "source '../CMakeLists.txt' of kernel 'k' is not a file"},
      {"Bad-Name adamw.comp", "variants.txt:2: kernel name 'Bad-Name' must be lower-case letters"},
      {"k adamw.comp WIDTH", "variants.txt:2: define 'WIDTH' of kernel 'k' is not NAME=VALUE"},
      {"k adamw.comp W=1\nk adamw.comp W=4", "variants.txt:3: kernel 'k' is defined twice"},
      // ema.comp is not a source of this table, so it is the kernel `ema` already.
      {"ema adamw.comp", "kernel 'ema' is both a row and"},
  };
  for (const Bad& bad : cases) {
    std::string table = (dir / "variants.txt").string();
    std::ofstream(table) << "# comment\n" << bad.row << "  # trailing comment\n";
    CommandResult r = read_table(table);
    EXPECT_NE(r.status, 0) << bad.row;
    // CMake wraps its messages: compare with every run of white space as one space.
    std::string text = std::regex_replace(r.output, std::regex("\\s+"), " ");
    EXPECT_NE(text.find(bad.message), std::string::npos) << bad.row << "\n" << r.output;
  }
  std::filesystem::remove_all(dir);
}

// The push-constant block of `kernel`: member offsets of the struct its PushConstant variable
// points to, and whether every member is a signed 32-bit int.
struct PushBlock {
  std::vector<uint32_t> offsets;
  bool all_int32 = true;
};
PushBlock push_block(const std::vector<uint32_t>& w) {
  constexpr uint32_t kOpTypeInt = 21, kOpTypeStruct = 30, kOpTypePointer = 32, kOpVariable = 59, kOpMemberDecorate = 72,
                     kDecorationOffset = 35, kStorageClassPushConstant = 9;
  std::map<uint32_t, uint32_t> pointee;                             // pointer type -> pointee
  std::map<uint32_t, std::vector<uint32_t>> struct_members;         // struct -> member types
  std::map<uint32_t, std::map<uint32_t, uint32_t>> member_offsets;  // struct -> member -> offset
  std::set<uint32_t> int32_types;
  uint32_t push_pointer = 0;
  for (size_t i = 5; i < w.size();) {
    uint32_t count = w[i] >> 16, op = w[i] & 0xffff;
    if (count == 0 || i + count > w.size()) break;
    const uint32_t* a = &w[i + 1];
    if (op == kOpTypeInt && a[1] == 32 && a[2] == 1) int32_types.insert(a[0]);
    if (op == kOpTypeStruct) struct_members[a[0]].assign(a + 1, a + count - 1);
    if (op == kOpTypePointer) pointee[a[0]] = a[2];
    if (op == kOpVariable && a[2] == kStorageClassPushConstant) push_pointer = a[0];
    if (op == kOpMemberDecorate && a[2] == kDecorationOffset) member_offsets[a[0]][a[1]] = a[3];
    i += count;
  }
  PushBlock block;
  uint32_t s = pointee[push_pointer];
  for (uint32_t m = 0; m < struct_members[s].size(); ++m) {
    block.offsets.push_back(member_offsets[s][m]);
    block.all_int32 = block.all_int32 && int32_types.count(struct_members[s][m]);
  }
  return block;
}

TEST(ShaderVariants, ConvPushMatchesEveryConvKernel) {
  using ops::ConvPush;
  const std::vector<uint32_t> expected = {
      offsetof(ConvPush, batch), offsetof(ConvPush, in_channels),     offsetof(ConvPush, in_h),
      offsetof(ConvPush, in_w),  offsetof(ConvPush, out_channels),    offsetof(ConvPush, out_h),
      offsetof(ConvPush, out_w), offsetof(ConvPush, in_batch_stride), offsetof(ConvPush, out_batch_stride),
      offsetof(ConvPush, flags), offsetof(ConvPush, split_pixels)};
  EXPECT_EQ(sizeof(ConvPush), expected.back() + 4);
  std::set<std::string> checked;
  for (const std::string& name : embedded_shader_names()) {
    // Every conv2d kernel takes ConvPush except the two that do not walk images.
    if (name.rfind("conv2d_", 0) != 0 || name == "conv2d_bwd_bias" || name == "conv2d_reduce_splits") continue;
    PushBlock block = push_block(spirv_words(name));
    EXPECT_EQ(block.offsets, expected) << name;
    EXPECT_TRUE(block.all_int32) << name;
    checked.insert(name);
  }
  EXPECT_TRUE(checked.count("conv2d_gemm_shared_tiles") && checked.count("conv2d_implicit_texel_fetch"));
  EXPECT_TRUE(checked.count("conv2d_gemm_shared_tiles_portable") &&
              checked.count("conv2d_implicit_texel_fetch_portable"));
  EXPECT_EQ(checked.size(), 8u);
}

// A variant is named for what its kernels do, not for a device class: `cpu` read as "CPU
// reference" to newcomers. The old names stay accepted where users typed them.
TEST(ShaderVariants, VariantNamesSayHowKernelsReadTheirOperands) {
  EXPECT_STREQ(kernel_variant_name(KernelVariant::TexelFetch), "texel-fetch");
  EXPECT_STREQ(kernel_variant_name(KernelVariant::SharedTiles), "shared-tiles");
  for (KernelVariant v : {KernelVariant::TexelFetch, KernelVariant::SharedTiles})
    EXPECT_EQ(parse_kernel_variant(kernel_variant_name(v)), v);
  EXPECT_EQ(parse_kernel_variant("cpu"), KernelVariant::TexelFetch);
  EXPECT_EQ(parse_kernel_variant("gpu"), KernelVariant::SharedTiles);
  EXPECT_EQ(parse_kernel_variant("CPU"), std::nullopt);
  EXPECT_EQ(parse_kernel_variant(""), std::nullopt);
  for (const std::string& name : embedded_shader_names()) {
    EXPECT_EQ(name.find("_cpu"), std::string::npos) << name;
    EXPECT_EQ(name.find("_gpu"), std::string::npos) << name;
  }
  CommandResult r = run_tessera("bench conv --variant fast --no-torch");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--variant is texel-fetch or shared-tiles (or cpu, gpu), got 'fast'"), std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace tessera::testing
