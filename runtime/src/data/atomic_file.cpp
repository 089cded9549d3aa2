#include "tessera/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "tessera/error.hpp"

namespace tessera {

namespace {

// The temporary file of an atomic write; removed unless committed.
class TemporaryFile {
 public:
  TemporaryFile(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  // Closes and reports the close status (a deferred write error can surface here).
  int close() {
    int r = ::close(fd_);
    fd_ = -1;
    return r;
  }
  void committed() { committed_ = true; }

 private:
  std::filesystem::path path_;
  int fd_;
  bool committed_ = false;
};

std::atomic<uint64_t> temporary_counter{0};

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes,
                           const std::string& shown_path) {
  const std::string target = shown_path.empty() ? "'" + path.string() + "'" : shown_path;
  if (!path.has_filename()) throw Error("cannot write " + target + ": the path names no file");
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  const std::filesystem::path temp_path = dir / ("." + path.filename().string() + ".tmp." + std::to_string(::getpid()) +
                                                 "." + std::to_string(temporary_counter.fetch_add(1)));
  auto failure = [&](const std::string& step, int err) {
    return Error("cannot write " + target + ": " + step + " failed: " + std::strerror(err));
  };

  int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw failure("creating temporary file '" + temp_path.string() + "'", errno);
  TemporaryFile temp(temp_path, fd);
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(temp.fd(), bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw failure("writing " + std::to_string(bytes.size()) + " bytes", errno);
    written += static_cast<size_t>(n);
  }
  if (::fsync(temp.fd()) != 0) throw failure("fsync", errno);
  if (temp.close() != 0) throw failure("close", errno);
  if (::rename(temp_path.c_str(), path.c_str()) != 0) throw failure("renaming the temporary file over it", errno);
  temp.committed();
  // Make the rename itself durable; the data is already safe, so a failure here is not fatal.
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

}  // namespace tessera
