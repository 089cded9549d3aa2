// The Python binding (plugin/bindings/python/tessera, ctypes over the built libtessera.so) run
// with /usr/bin/python3 ($TESSERA_PYTHON): its unittest module tests/plugin/python/test_tessera.py,
// given the inputs only C++ has here: the C struct sizes, the C API's bytes for one request, a
// tiny random material model, and the built `tessera` CLI to compare files with.
#include <cstdlib>
#include <fstream>

#include "plugin/plugin_test.hpp"
#include "support/run_command.hpp"

namespace tessera::testing {
namespace {

// What the binding needs; a machine without them skips, except in CI (CI=true), where
// tools/install-deps.sh installs them and a skip would hide a broken binding.
bool python_has_numpy_and_pil(std::string& why) {
  CommandResult r = run_command(reference_python() + " -c 'import numpy, PIL'");
  why = r.output;
  return r.status == 0;
}

// "tsr_context_desc=SIZE,...": what test_struct_layout_matches_the_header compares ctypes' with.
std::string struct_sizes() {
  std::string out;
  for (const auto& [name, size] : header_struct_sizes())
    out += (out.empty() ? "" : ",") + name + "=" + std::to_string(size);
  return out;
}

TEST(PluginPython, BindingTestsPass) {
  std::string why;
  if (!python_has_numpy_and_pil(why)) {
    const char* ci = std::getenv("CI");
    if (ci && *ci) FAIL() << reference_python() << " lacks numpy or PIL in CI (tools/install-deps.sh):\n" << why;
    GTEST_SKIP() << reference_python() << " lacks numpy or PIL (Debian: python3-numpy python3-pil):\n" << why;
  }
  const fs::path dir = plugin_model_path().parent_path();

  // The C API's bytes for the request the binding repeats: class wood, seed 77, 3 steps, 16x16,
  // in the fast and in portable mode (at this size their 8-bit bytes may agree: the binding's
  // test sees which mode it got in the context's log).
  const fs::path capi = dir / "python_capi.rgba", capi_portable = dir / "python_capi_portable.rgba";
  std::vector<uint8_t> pixels[2];
  for (int portable : {0, 1}) {
    LogSink sink;
    tsr_context_desc d = context_desc(&sink);
    d.arithmetic = portable ? TSR_ARITHMETIC_PORTABLE : TSR_ARITHMETIC_FAST;
    tsr_context ctx = create_context(d);
    tsr_generate_desc g = generate_desc(load_test_model(ctx), 77, 3);
    g.class_name = "wood";
    pixels[portable] = run_to_end(ctx, submit(ctx, g), 16, 16);
    EXPECT_EQ(tsr_context_destroy(ctx), TSR_SUCCESS);
    sink.expect_no_validation_messages();
    std::ofstream(portable ? capi_portable : capi, std::ios::binary)
        .write(reinterpret_cast<const char*>(pixels[portable].data()), std::streamsize(pixels[portable].size()));
  }

  // The test model with albedo, height and roughness: small enough for many generations.
  ModelInfo info;
  info.config = UNetConfig::from_json(kPluginModelConfig);
  info.config.maps = {MapKind::Albedo, MapKind::Height, MapKind::Roughness};
  info.classes = {"stone", "wood"};
  write_random_model(dir / "python_material.safetensors", info, 11);

  const std::pair<const char*, std::string> inputs[] = {
      {"TESSERA_LIBRARY", TESSERA_BINARY_DIR "/libtessera.so"},
      {"PYTHONPATH", TESSERA_SOURCE_DIR "/plugin/bindings/python"},
      {"TESSERA_TEST_MODEL", plugin_model_path().string()},
      {"TESSERA_TEST_MATERIAL_MODEL", (dir / "python_material.safetensors").string()},
      {"TESSERA_TEST_BUNDLED_MATERIAL", TESSERA_SOURCE_DIR "/models/material.safetensors"},
      {"TESSERA_TEST_CLI", TESSERA_BINARY_DIR "/tessera"},
      {"TESSERA_TEST_CAPI_PIXELS", capi.string()},
      {"TESSERA_TEST_CAPI_PORTABLE_PIXELS", capi_portable.string()},
      {"TESSERA_TEST_STRUCT_SIZES", struct_sizes()},
  };
  std::string env;
  for (const auto& [name, value] : inputs) env += std::string(name) + "=" + value + " ";
#ifdef TESSERA_SANITIZER_PRELOAD
  // Sanitized build: python is not instrumented (its own allocations are not ours to check);
  // the binding's frees are checked through the API (handles invalid, device memory back).
  env += "LD_PRELOAD=" TESSERA_SANITIZER_PRELOAD " ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0 ";
#endif
  CommandResult r = run_command("cd " + dir.string() + " && " + env + reference_python() +
                                " " TESSERA_SOURCE_DIR "/tests/plugin/python/test_tessera.py -v");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "\nOK")) << r.output;
  EXPECT_FALSE(contains(r.output, "skipped")) << "every binding test runs here\n" << r.output;
}

}  // namespace
}  // namespace tessera::testing
