// tsr_context_desc.arithmetic: portable mode through the C API (docs/portable.md).
#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "plugin/plugin_test.hpp"

namespace tessera::testing {
namespace {

TEST(PluginArithmetic, PortableAndFastAreAcceptedAnUnknownValueIsRefusedByName) {
  for (uint32_t mode :
       {uint32_t(TSR_ARITHMETIC_DEFAULT), uint32_t(TSR_ARITHMETIC_FAST), uint32_t(TSR_ARITHMETIC_PORTABLE)}) {
    LogSink log;
    tsr_context_desc d = context_desc(&log);
    d.arithmetic = mode;
    tsr_context ctx{};
    ASSERT_EQ(tsr_context_create(&d, &ctx), TSR_SUCCESS) << mode << ": " << tsr_get_last_error();
    EXPECT_EQ(tsr_context_destroy(ctx), TSR_SUCCESS);
    log.expect_no_validation_messages();
  }
  LogSink log;
  tsr_context_desc d = context_desc(&log);
  d.arithmetic = 3;
  tsr_context ctx{};
  EXPECT_EQ(tsr_context_create(&d, &ctx), TSR_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(tsr_get_last_error()).find("tsr_context_desc.arithmetic 3"), std::string::npos)
      << tsr_get_last_error();
  // A host built against the header before the field (struct_size ends before it) gets the default.
  d.struct_size = offsetof(tsr_context_desc, arithmetic);
  ASSERT_EQ(tsr_context_create(&d, &ctx), TSR_SUCCESS) << tsr_get_last_error();
  EXPECT_EQ(tsr_context_destroy(ctx), TSR_SUCCESS);
}

}  // namespace
}  // namespace tessera::testing
