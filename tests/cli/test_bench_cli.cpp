// `tessera bench gemm` as a user runs it: every case times and the table prints. A smoke test
// of the tool, not of any speed.
#include <gtest/gtest.h>

#include <string>

#include "support/run_command.hpp"

namespace tessera {
namespace {

using testing::CommandResult;
using testing::run_tessera;

TEST(BenchGemmCli, EveryCaseTimesAndTheTablePrints) {
  CommandResult r = run_tessera("bench gemm --iters 1 --no-torch");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* expected : {"tessera GF/s", "gemm_attn_qk_256x256x32_b32", "gemm_attn_pv_64x256x256_b32",
                               "gemm_linear_32x1024x256_b1", "gemm_square_1024x1024x1024_b1", "2*M*N*K*batch"})
    EXPECT_NE(r.output.find(expected), std::string::npos) << "missing '" << expected << "' in:\n" << r.output;
}

TEST(BenchGemmCli, AnEmptySelectionIsAnError) {
  CommandResult r = run_tessera("bench gemm --iters 1 --no-torch --pass no_such_group");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("select no case"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace tessera
