// Start-of-run clean-up shared by `tessera train` and `tessera sample`: the temporary files that
// killed atomic writes left in the folders a run writes to (tessera/atomic_file.hpp says which
// files count as stale and why removing them cannot hurt a live writer).
#pragma once
#include <filesystem>
#include <vector>

namespace tessera::cli {

// Removes them from each folder and says so on stderr, one line per file.
void remove_stale_temporaries(const std::vector<std::filesystem::path>& folders);

}  // namespace tessera::cli
