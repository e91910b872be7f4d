// SplicePipe: a kernel pipe that splice(2) moves one direction's bytes through, socket →
// pipe → socket, without copying them to user space.
//
// Lifetime. A pipe is two fds and, once filled, up to its capacity of kernel memory. A
// SplicePipe holds one only while bytes are in flight: acquire() takes an empty pipe from
// this thread's pool (or makes one), release() gives it back once it is empty. An idle
// tunnel therefore holds no pipe, and a busy one does not pay pipe2() + fcntl() + 2 × close()
// per burst; the pool keeps a handful of empty pipes per thread (a reactor thread pumps one
// connection at a time, so a couple are enough). Like the BufferPool it is per thread, so
// it needs no lock; release() fills the pool of the thread that calls it.
//
// Capacity. New pipes are grown to kCapacity with F_SETPIPE_SZ; if the kernel refuses
// (fs.pipe-max-size, or the user is over fs.pipe-user-pages-soft) the default size is kept
// without a word. Against the default 64 KiB (bench/README.md): GB/s alike within the
// noise, 1.8x fewer splice() calls, a little less CPU per GiB (median of 12 pairs of runs:
// 0.56 s against 0.61 s; a tie on a quiet machine, 256 KiB ahead when other work competed
// for the cores). Kernel memory is only used while bytes are in flight (an empty pipe holds
// no pages), but fs.pipe-user-pages-soft counts capacity: without CAP_SYS_RESOURCE a user's
// pipes total 64 MiB by default, 256 pipes of 256 KiB, after which new pipes get 8 KiB.
// Pooling keeps the count low: one pipe per back-pressured direction, plus a few idle ones
// per thread.
//
// The byte count is exact (what splice() put in minus what it took out), so a pipe is only
// pooled when it is truly empty; a pipe that holds bytes at destruction is closed.
//
// SIGPIPE: splice() into a socket whose peer is gone raises SIGPIPE (there is no
// MSG_NOSIGNAL for splice); the process ignores it (app/main.cc) and gets EPIPE.
#pragma once

#include <cstddef>

#include "core/fd.h"
#include "net/readiness.h"
#include "net/socket.h"

namespace tlsgate::net {

class SplicePipe {
 public:
  static constexpr size_t kCapacity = 256 * 1024;

  SplicePipe() = default;
  SplicePipe(const SplicePipe&) = delete;
  SplicePipe& operator=(const SplicePipe&) = delete;
  ~SplicePipe() { release(); }

  // Bytes spliced in and not yet out.
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool holdsPipe() const { return write_.valid(); }

  // Takes a pipe if none is held. False if none can be made (errno: EMFILE, ENFILE...).
  bool acquire();
  // Gives an empty pipe back to the pool (or closes it); a pipe with bytes in it is kept.
  void release();

  // Moves what `from` has into the pipe, which must be empty: kData with `n` bytes, kEof,
  // kDrained (EAGAIN: `readable` cleared) or kError (errno).
  //
  // Unlike recvSome(), a short splice does not clear `readable`: it also happens when the
  // pipe runs out of slots (one per socket buffer fragment, 16 in a 64 KiB pipe) with bytes
  // still queued in the socket, and no new edge would announce those (seen on loopback:
  // 100-byte TCP_NODELAY segments, 3200 bytes spliced into an empty 64 KiB pipe, 100 KB left
  // queued). Filling only an empty pipe keeps EAGAIN unambiguous: the socket is drained, the
  // pipe is not full. The price is one splice() that returns EAGAIN per wake-up.
  RecvStatus fill(Readiness& from, size_t& n);
  // Moves bytes from the pipe into `to`: the bytes moved, 0 when `to` is full (`writable`
  // cleared), -1 on a socket error (errno), as sendSome().
  ssize_t drain(Readiness& to);

 private:
  Fd read_;
  Fd write_;
  size_t capacity_ = 0;  // what F_GETPIPE_SZ reported
  size_t size_ = 0;
};

}  // namespace tlsgate::net
