#include "tessera/atomic_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <optional>
#include <string_view>

#include "tessera/error.hpp"

namespace tessera {

namespace {

constexpr std::string_view kTemporaryMarker = ".tmp.";

std::string temporary_name(const std::filesystem::path& target, pid_t pid, uint64_t n) {
  return "." + target.filename().string() + std::string(kTemporaryMarker) + std::to_string(pid) + "." +
         std::to_string(n);
}

std::optional<long long> decimal(std::string_view text) {
  long long v = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || text[0] == '-') return std::nullopt;
  return v;
}

// The writer pid of a file named by temporary_name(), or nullopt for any other name.
std::optional<pid_t> temporary_file_writer(std::string_view name) {
  size_t counter_dot = name.rfind('.');
  if (name.empty() || name[0] != '.' || counter_dot == std::string_view::npos || !decimal(name.substr(counter_dot + 1)))
    return std::nullopt;
  if (counter_dot < kTemporaryMarker.size()) return std::nullopt;
  size_t marker = name.rfind(kTemporaryMarker, counter_dot - kTemporaryMarker.size());  // ends before the pid
  if (marker == std::string_view::npos || marker < 2) return std::nullopt;              // "." + a non-empty target name
  size_t pid_start = marker + kTemporaryMarker.size();
  std::optional<long long> pid = decimal(name.substr(pid_start, counter_dot - pid_start));
  if (!pid || *pid < 1 || *pid > INT32_MAX) return std::nullopt;
  return static_cast<pid_t>(*pid);
}

// The temporary file of an atomic write; removed unless committed. Its flock lives on a
// duplicate of the descriptor, so it is held past close() until after the rename.
class TemporaryFile {
 public:
  TemporaryFile(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {
    // Best effort: on a file system without flock the clean-up cannot take the lock either and
    // leaves the file alone.
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) lock_fd_ = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
    if (lock_fd_ >= 0) ::close(lock_fd_);
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
  int lock_fd_ = -1;
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
  auto failure = [&](const std::string& step, int err) {
    return Error("cannot write " + target + ": " + step + " failed: " + std::strerror(err));
  };

  // A name can be taken by a stale temp of an earlier process with this pid (pids repeat, in
  // containers from one run to the next): then the next number.
  std::filesystem::path temp_path;
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < 100; ++attempt) {
    temp_path = dir / temporary_name(path, ::getpid(), temporary_counter.fetch_add(1));
    fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST) break;
  }
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

std::vector<std::filesystem::path> remove_stale_temporary_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> removed;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::filesystem::path& path = it->path();
    std::optional<pid_t> writer = temporary_file_writer(path.filename().string());
    if (!writer || !it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    // Another live process with this pid may be its writer, between creating and locking it.
    if (*writer != ::getpid() && (::kill(*writer, 0) == 0 || errno == EPERM)) continue;
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    // Holding the lock while unlinking: no writer can own the file in between.
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::unlink(path.c_str()) == 0) removed.push_back(path);
    ::close(fd);
  }
  return removed;
}

}  // namespace tessera
