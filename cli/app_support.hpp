// What the `tessera` command, `tessera-viewer` and the tests share that is not the runtime's:
// where the bundled model is, the WxH syntax, and which Python runs the PyTorch references.
// Header-only and standard C++ only, so that the viewer, a host of the C API alone, includes it
// without reaching the runtime (docs/architecture.md, "Who may include whom"). Rules about a
// generation (the size rule, steps, guidance, classes) are not here: they are the runtime's
// (GenerationRequest::validate), which the viewer reaches through tessera.h.
#pragma once
#include <charconv>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace tessera::app {

// models/default.safetensors in the executable's tree (a build folder, or an install's
// share/tessera), else in the source tree it was built from; nullopt when there is none.
inline std::optional<std::filesystem::path> bundled_model_path(const std::filesystem::path& source_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path root = fs::read_symlink("/proc/self/exe", ec).parent_path().parent_path();
  for (const fs::path& candidate :
       {root / "models/default.safetensors", root / "share/tessera/models/default.safetensors",
        source_dir / "models/default.safetensors"})
    if (fs::exists(candidate, ec)) return candidate;
  return std::nullopt;
}

// "WxH" (or "WXH"): two plain decimal integers in 1..max_side; nullopt otherwise, overflow
// included. Whether a model can make that size is the runtime's rule (check_sample_size).
inline std::optional<std::pair<int, int>> parse_size(std::string_view text, int max_side = INT_MAX) {
  auto side = [&](std::string_view part) -> std::optional<int> {
    int v = 0;
    auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || error != std::errc() || end != part.data() + part.size() || v < 1 || v > max_side)
      return std::nullopt;
    return v;
  };
  const size_t x = text.find_first_of("xX");
  if (x == std::string_view::npos) return std::nullopt;
  std::optional<int> w = side(text.substr(0, x)), h = side(text.substr(x + 1));
  if (!w || !h) return std::nullopt;
  return std::pair{*w, *h};
}

// The Python that runs the PyTorch references and the benchmarks' torch side: $TESSERA_PYTHON
// (e.g. a GPU machine's CUDA torch, tools/gpu/check.sh), else Debian's /usr/bin/python3 with
// python3-torch.
inline std::string reference_python() {
  const char* p = std::getenv("TESSERA_PYTHON");
  return p && *p ? p : "/usr/bin/python3";
}

}  // namespace tessera::app
