#include "core/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/log.h"

namespace tlsgate {

namespace {
constexpr auto kFlushInterval = std::chrono::milliseconds(20);

Result<int> openFile(const std::string& path) {
  if (path == "stderr") return STDERR_FILENO;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0)
    return Error{path, 0, std::string("cannot open the access log: ") + std::strerror(errno)};
  return fd;
}
}  // namespace

std::atomic<AccessLog*> AccessLog::active_{nullptr};

Result<std::unique_ptr<AccessLog>> AccessLog::open(const std::string& path, size_t lanes) {
  auto fd = openFile(path);
  if (!fd) return fd.error();
  return std::unique_ptr<AccessLog>(new AccessLog(path, *fd, lanes));
}

AccessLog::AccessLog(std::string path, int fd, size_t lanes) : path_(std::move(path)), fd_(fd) {
  for (size_t i = 0; i < std::max<size_t>(lanes, 1); ++i)
    lanes_.push_back(std::make_unique<Lane>());
  writer_ = std::thread([this] { run(); });
}

AccessLog::~AccessLog() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  writer_.join();
  if (fd_ != STDERR_FILENO) ::close(fd_);
}

bool AccessLog::append(size_t lane, std::string_view line) {
  if (lane >= lanes_.size()) return false;
  Lane& l = *lanes_[lane];
  uint64_t head = l.head.load(std::memory_order_relaxed);
  uint64_t tail = l.tail.load(std::memory_order_acquire);
  if (line.size() > kLaneBytes - (head - tail)) return false;
  size_t at = head % kLaneBytes;
  size_t first = std::min(line.size(), kLaneBytes - at);
  std::memcpy(l.ring.get() + at, line.data(), first);
  std::memcpy(l.ring.get(), line.data() + first, line.size() - first);
  l.head.store(head + line.size(), std::memory_order_release);
  return true;
}

void AccessLog::reopen() {
  std::unique_lock lock(mutex_);
  uint64_t ticket = ++reopenRequested_;
  wake_.notify_all();
  // Bounded: a writer stuck on a full disk must not hang the admin thread or the signal loop.
  reopened_.wait_for(lock, std::chrono::seconds(5), [&] { return reopenDone_ >= ticket; });
}

void AccessLog::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, kFlushInterval);
    bool stopping = stop_;
    uint64_t wanted = reopenRequested_;
    lock.unlock();
    flush();  // what was appended before a reopen request goes to the old file
    if (wanted != reopenDone_) reopenNow();
    lock.lock();
    if (wanted != reopenDone_) {
      reopenDone_ = wanted;
      reopened_.notify_all();
    }
    if (stopping) return;
  }
}

void AccessLog::flush() {
  for (auto& lane : lanes_) {
    uint64_t tail = lane->tail.load(std::memory_order_relaxed);
    uint64_t head = lane->head.load(std::memory_order_acquire);
    while (tail != head) {
      size_t at = tail % kLaneBytes;
      size_t n = std::min<uint64_t>(head - tail, kLaneBytes - at);
      writeAll(lane->ring.get() + at, n);
      tail += n;
    }
    lane->tail.store(tail, std::memory_order_release);
  }
}

void AccessLog::writeAll(const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (!writeFailed_) log::warning("access log %s: %s", path_.c_str(), std::strerror(errno));
      writeFailed_ = true;
      return;
    }
    writeFailed_ = false;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void AccessLog::reopenNow() {
  if (fd_ == STDERR_FILENO) return;
  auto fd = openFile(path_);
  if (!fd) {
    log::warning("%s; still writing to the old file", fd.error().toString().c_str());
    return;
  }
  ::close(fd_);
  fd_ = *fd;
  log::info("access log reopened: %s", path_.c_str());
}

}  // namespace tlsgate
