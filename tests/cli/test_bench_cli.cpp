// `tessera bench gemm` as a user runs it: every case times and the table prints. A smoke test
// of the tool, not of any speed.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace tessera {
namespace {

struct BenchOutput {
  int status;
  std::string text;  // stdout and stderr
};

BenchOutput run_bench(const std::string& args) {
  std::string cmd = std::string(TESSERA_BINARY_DIR) + "/tessera bench " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(BenchGemmCli, EveryCaseTimesAndTheTablePrints) {
  BenchOutput r = run_bench("gemm --iters 1 --no-torch");
  ASSERT_EQ(r.status, 0) << r.text;
  for (const char* expected : {"tessera GF/s", "gemm_attn_qk_256x256x32_b32", "gemm_attn_pv_64x256x256_b32",
                               "gemm_linear_32x1024x256_b1", "gemm_square_1024x1024x1024_b1", "2*M*N*K*batch"})
    EXPECT_NE(r.text.find(expected), std::string::npos) << "missing '" << expected << "' in:\n" << r.text;
}

TEST(BenchGemmCli, AnEmptySelectionIsAnError) {
  BenchOutput r = run_bench("gemm --iters 1 --no-torch --pass no_such_group");
  EXPECT_EQ(r.status, 1) << r.text;
  EXPECT_NE(r.text.find("select no case"), std::string::npos) << r.text;
}

}  // namespace
}  // namespace tessera
