#include "net/pipe.h"

#include <fcntl.h>

#include <cerrno>
#include <utility>
#include <vector>

namespace tlsgate::net {

namespace {

constexpr unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;

struct EmptyPipe {
  Fd read;
  Fd write;
  size_t capacity = 0;
};

// Empty pipes of this thread. A pipe released while kKeep are idle already is closed: that
// takes many tunnels blocked on slow receivers at the same time, then becoming idle.
class PipePool {
 public:
  static constexpr size_t kKeep = 8;

  bool take(EmptyPipe& out) {
    if (free_.empty()) return false;
    out = std::move(free_.back());
    free_.pop_back();
    return true;
  }
  void give(EmptyPipe pipe) {
    if (free_.size() < kKeep) free_.push_back(std::move(pipe));
  }

 private:
  std::vector<EmptyPipe> free_;
};

PipePool& threadPool() {
  thread_local PipePool pool;
  return pool;
}

bool makePipe(EmptyPipe& out) {
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;
  out.read.reset(fds[0]);
  out.write.reset(fds[1]);
  // Refused beyond fs.pipe-max-size or fs.pipe-user-pages-soft: the default size will do.
  int size = ::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(SplicePipe::kCapacity));
  if (size < 0) size = ::fcntl(fds[1], F_GETPIPE_SZ);
  out.capacity = size > 0 ? static_cast<size_t>(size) : 64 * 1024;
  return true;
}

}  // namespace

bool SplicePipe::acquire() {
  if (holdsPipe()) return true;
  EmptyPipe p;
  if (!threadPool().take(p) && !makePipe(p)) return false;
  read_ = std::move(p.read);
  write_ = std::move(p.write);
  capacity_ = p.capacity;
  return true;
}

void SplicePipe::release() {
  if (!holdsPipe() || size_ != 0) return;
  threadPool().give(EmptyPipe{std::move(read_), std::move(write_), capacity_});
}

RecvStatus SplicePipe::fill(Readiness& from, size_t& n) {
  for (;;) {
    ssize_t got = ::splice(from.fd, nullptr, write_.get(), nullptr, capacity_, kSpliceFlags);
    if (got > 0) {
      n = static_cast<size_t>(got);
      size_ += n;
      return RecvStatus::kData;
    }
    if (got == 0) return RecvStatus::kEof;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return RecvStatus::kError;
    from.readable = false;  // the pipe was empty: the socket is drained
    return RecvStatus::kDrained;
  }
}

ssize_t SplicePipe::drain(Readiness& to) {
  for (;;) {
    ssize_t n = ::splice(read_.get(), nullptr, to.fd, nullptr, size_, kSpliceFlags);
    if (n >= 0) {
      size_ -= static_cast<size_t>(n);
      return n;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return -1;
    to.writable = false;
    return 0;
  }
}

}  // namespace tlsgate::net
