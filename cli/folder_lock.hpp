// An exclusive lock on a folder, held while the object lives: flock() on a lock file in the
// folder. The kernel releases it when the process ends however it ends (kill -9 included), so
// a stale lock never blocks. The file holds the holder's pid, for the message of the one that
// is refused; it is left in place, since removing a lock file races with a process that has
// just opened it.
#pragma once
#include <filesystem>
#include <string>

namespace tessera::cli {

class FolderLock {
 public:
  // Throws tessera::Error naming the folder, and the pid of the holder when it is known.
  // `holder` says who holds such locks ("tessera train") for that message.
  FolderLock(const std::filesystem::path& folder, const std::string& file_name, const std::string& holder);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace tessera::cli
