// AccessLog: one line per connection, written by a background thread (README "Access log").
//
// A worker never blocks on the log: each worker appends to its own lane, a bounded
// single-producer single-consumer byte ring (lock-free: the worker moves `head_`, the
// writer thread moves `tail_`). A line that does not fit, because the writer fell behind,
// is dropped whole and the caller counts it. The writer thread empties the lanes into the
// file every few milliseconds and reopens the file on request (logrotate: SIGUSR2, POST
// /reopen).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/result.h"

namespace tlsgate {

class AccessLog {
 public:
  static constexpr size_t kLaneBytes = 256 * 1024;

  // `path`: a file, created if needed and appended to, or "stderr". `lanes`: one per worker.
  static Result<std::unique_ptr<AccessLog>> open(const std::string& path, size_t lanes);
  // Flushes what the lanes hold, then stops the writer. Workers must have stopped.
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Called only by worker `lane`: appends `line` (which ends with '\n'). False: dropped.
  bool append(size_t lane, std::string_view line);
  // Reopens the file by its path (a no-op for stderr); returns once the writer has done it,
  // so what is appended afterwards goes to the new file.
  void reopen();

  // The log the workers write to (nullptr: access logging is off). Set before the workers
  // start, cleared after they stop.
  static AccessLog* active() { return active_.load(std::memory_order_acquire); }
  static void setActive(AccessLog* log) { active_.store(log, std::memory_order_release); }

 private:
  struct alignas(64) Lane {
    std::atomic<uint64_t> head{0};              // bytes ever appended (the worker's)
    alignas(64) std::atomic<uint64_t> tail{0};  // bytes ever written out (the writer's)
    std::unique_ptr<char[]> ring{new char[kLaneBytes]};
  };

  AccessLog(std::string path, int fd, size_t lanes);
  void run();
  void flush();
  void reopenNow();
  void writeAll(const char* p, size_t n);

  static std::atomic<AccessLog*> active_;

  std::string path_;
  int fd_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::mutex mutex_;  // the writer's wake-ups; never taken by a worker
  std::condition_variable wake_;
  std::condition_variable reopened_;
  bool stop_ = false;
  uint64_t reopenRequested_ = 0;
  uint64_t reopenDone_ = 0;
  bool writeFailed_ = false;  // warn once, not per flush
  std::thread writer_;
};

}  // namespace tlsgate
