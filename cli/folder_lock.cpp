#include "folder_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tessera/error.hpp"

namespace tessera::cli {

FolderLock::FolderLock(const std::filesystem::path& folder, const std::string& file_name, const std::string& holder) {
  const std::filesystem::path path = folder / file_name;
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot create the lock file '" + path.string() + "': " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char pid[32] = {};
    ssize_t n = ::pread(fd_, pid, sizeof pid - 1, 0);
    ::close(fd_);
    fd_ = -1;
    if (err != EWOULDBLOCK) throw Error("cannot lock '" + path.string() + "': " + std::strerror(err));
    std::string who = n > 0 && pid[0] != '\n'
                          ? "another " + holder + " (pid " + std::string(pid, strcspn(pid, "\n")) + ")"
                          : "another " + holder;
    throw Error("'" + folder.string() + "' is in use by " + who + " (lock file '" + path.string() +
                "'); two of them cannot write into one folder at once");
  }
  // The pid only serves the messages of processes that are refused: failing to record it is harmless.
  std::string mine = std::to_string(::getpid()) + "\n";
  [[maybe_unused]] bool recorded =
      ::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, mine.data(), mine.size(), 0) == ssize_t(mine.size());
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

}  // namespace tessera::cli
