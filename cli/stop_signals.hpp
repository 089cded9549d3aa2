// Stop requests for a long-running command: SIGINT (Ctrl-C), SIGTERM (kill, timeout, systemd,
// docker, batch schedulers) and SIGHUP (a closed terminal or ssh session) are handled alike.
// The first one asks the command to stop at its next safe point (`tessera train`: finish the
// step, save a checkpoint, exit); a second one ends the process at once with status 128 + the
// first signal, except while a file is being written (writing()): that write is finished
// first, so neither a partial file nor a temporary file is left behind.
//
// The signals are blocked in the constructing thread, and so in every thread it starts later
// (the Vulkan driver's); a watcher thread takes them with sigtimedwait, so nothing runs in a
// signal handler. Construct before any other thread is started.
#pragma once
#include <atomic>
#include <csignal>
#include <mutex>
#include <string>
#include <thread>

namespace tessera::cli {

class StopSignals {
 public:
  // `command` and the two texts make the messages: "tessera train: SIGTERM: <on_first>".
  StopSignals(std::string command, std::string on_first, std::string on_second);
  ~StopSignals();  // stops the watcher and restores the signal mask
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  int first_signal() const { return first_.load(); }  // 0: none yet
  bool stop_requested() const { return first_signal() != 0; }
  // Hold while writing a file: a second signal waits for it before ending the process.
  std::unique_lock<std::mutex> writing() { return std::unique_lock(write_mutex_); }

  static const char* name(int signal);  // "SIGINT", "SIGTERM", "SIGHUP"

 private:
  void watch();

  std::string command_, on_first_, on_second_;
  sigset_t watched_{}, previous_mask_{};
  std::atomic<int> first_{0};
  std::atomic<bool> closing_{false};
  std::mutex write_mutex_;
  std::thread watcher_;
};

}  // namespace tessera::cli
