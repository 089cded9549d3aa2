#include "stop_signals.hpp"

#include <pthread.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace tessera::cli {

StopSignals::StopSignals(std::string command, std::string on_first, std::string on_second)
    : command_(std::move(command)), on_first_(std::move(on_first)), on_second_(std::move(on_second)) {
  sigemptyset(&watched_);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&watched_, s);
  pthread_sigmask(SIG_BLOCK, &watched_, &previous_mask_);
  watcher_ = std::thread([this] { watch(); });
}

StopSignals::~StopSignals() {
  closing_ = true;
  watcher_.join();
  pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
}

const char* StopSignals::name(int signal) {
  switch (signal) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "signal";
  }
}

void StopSignals::watch() {
  // A short timeout lets the destructor end the watcher without sending it a signal of its own.
  const timespec poll{0, 100'000'000};
  while (!closing_) {
    int s = sigtimedwait(&watched_, nullptr, &poll);
    if (s < 0) continue;  // EAGAIN (timeout) or EINTR
    int first = 0;
    if (first_.compare_exchange_strong(first, s)) {
      std::fprintf(stderr, "\n%s: %s: %s\n", command_.c_str(), name(s), on_first_.c_str());
      continue;
    }
    std::fprintf(stderr, "\n%s: %s again: %s\n", command_.c_str(), name(s), on_second_.c_str());
    std::lock_guard wait_for_write(write_mutex_);
    std::_Exit(128 + first);
  }
}

}  // namespace tessera::cli
