#include "stale_temporaries.hpp"

#include <cstdio>

#include "tessera/atomic_file.hpp"

namespace tessera::cli {

void remove_stale_temporaries(const std::vector<std::filesystem::path>& folders) {
  for (const auto& folder : folders)
    for (const auto& path : remove_stale_temporary_files(folder))
      std::fprintf(stderr, "removed %s, left by an interrupted write\n", path.string().c_str());
}

}  // namespace tessera::cli
