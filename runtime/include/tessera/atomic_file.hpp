// Writing a file so that readers see the old file or the new one, never a torn one: a
// temporary file in the same folder, fsync, rename over the target, fsync of the folder.
// On any failure the temporary file is removed and an existing target is left untouched.
#pragma once
#include <filesystem>
#include <span>
#include <string>

namespace tessera {

// Throws tessera::Error "cannot write <shown_path>: <step> failed: <reason>". `shown_path`
// is how the message names the target (default: the path in single quotes).
void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes,
                           const std::string& shown_path = "");

}  // namespace tessera
