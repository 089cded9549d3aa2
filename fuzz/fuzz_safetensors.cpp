// libFuzzer target: the safetensors reader on arbitrary bytes (SPEC §7, §11).
// Properties checked beyond "no crash, no out-of-bounds read, no UB":
// - the only exception a malformed file may raise is FormatError;
// - a file that parses re-serializes without error, and re-parsing that gives the same
//   tensors (name, dtype, shape, bytes) and metadata;
// - the config checker never throws anything but FormatError.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "tessera/error.hpp"
#include "tessera/safetensors.hpp"

namespace {

[[noreturn]] void property_failed() { std::abort(); }

void check_round_trip(const tessera::SafetensorsFile& file) {
  std::vector<tessera::SafetensorsTensorData> tensors;
  for (const auto& t : file.tensors()) tensors.push_back({t.name, t.dtype, t.shape, t.data});
  const std::vector<std::byte> bytes = tessera::serialize_safetensors(tensors, file.metadata());
  const tessera::SafetensorsFile again = tessera::SafetensorsFile::parse(bytes);
  if (again.metadata() != file.metadata() || again.tensors().size() != file.tensors().size()) property_failed();
  for (size_t i = 0; i < file.tensors().size(); ++i) {
    const auto& a = file.tensors()[i];
    const auto& b = again.tensors()[i];
    if (a.name != b.name || a.dtype != b.dtype || a.shape != b.shape || a.data.size() != b.data.size())
      property_failed();
    for (size_t k = 0; k < a.data.size(); ++k)
      if (a.data[k] != b.data[k]) property_failed();
  }
  if (!again.notes().empty()) property_failed();  // our writer leaves no gaps
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const std::byte> input(reinterpret_cast<const std::byte*>(data), size);
  try {
    const tessera::SafetensorsFile file = tessera::SafetensorsFile::parse(input, "fuzz-input");
    check_round_trip(file);
    tessera::ExpectedTensors expected;
    expected.expect_tensor("conv_in.weight", tessera::SafetensorsDType::F32, {4, 3, 3, 3});
    expected.problems(file);
    try {
      expected.check(file, /*allow_unexpected=*/true);
    } catch (const tessera::FormatError&) {
    }
  } catch (const tessera::FormatError&) {
    // The expected outcome for most inputs. Anything else propagates and libFuzzer reports it.
  }
  return 0;
}
