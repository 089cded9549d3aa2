// Writing a file so that readers see the old file or the new one, never a torn one: a
// temporary file in the same folder, fsync, rename over the target, fsync of the folder.
// On any failure the temporary file is removed and an existing target is left untouched.
//
// The temporary file is ".<target name>.tmp.<writer pid>.<n>", and its writer holds an
// exclusive flock(2) on it from creation until after the rename. A write killed part-way (kill -9,
// power loss) leaves that file behind; remove_stale_temporary_files() finds such files by the
// name and removes those that no live writer can own (see there).
#pragma once
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace tessera {

// Throws tessera::Error "cannot write <shown_path>: <step> failed: <reason>". `shown_path`
// is how the message names the target (default: the path in single quotes).
void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes,
                           const std::string& shown_path = "");

// Removes the temporary files of killed atomic writes from folder `dir` (not its sub-folders)
// and returns their paths. A file is removed only when it is a regular file named as above, no
// process holds its flock, and the pid in its name is not a live process other than this one.
// The lock protects writers everywhere, including other pid namespaces sharing the folder; the
// pid protects another process's temp in the instant between its creation and its lock. A
// temp whose pid was reused by an unrelated process is kept until that process ends. A folder
// that does not exist or cannot be read, and a file that cannot be opened, locked or removed,
// are left alone: clean-up never fails the caller.
std::vector<std::filesystem::path> remove_stale_temporary_files(const std::filesystem::path& dir);

}  // namespace tessera
