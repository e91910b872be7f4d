// BufferPool and Chunk: fixed-size I/O buffers lent to connections while they move bytes.
//
// An idle connection holds no buffer (DESIGN: memory per idle connection); a busy one
// borrows from its worker's pool, so the relay hot path does not call malloc. The pool is
// per worker thread and unsynchronised.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <vector>

namespace tlsgate {

class BufferPool {
 public:
  static constexpr size_t kBufferSize = 16 * 1024;  // one TLS record of plaintext
  explicit BufferPool(size_t keep = 256) : keep_(keep) {}

  std::unique_ptr<char[]> take() {
    if (free_.empty()) return std::make_unique_for_overwrite<char[]>(kBufferSize);
    auto b = std::move(free_.back());
    free_.pop_back();
    return b;
  }
  void give(std::unique_ptr<char[]> b) {
    if (b && free_.size() < keep_) free_.push_back(std::move(b));
  }

 private:
  size_t keep_;
  std::vector<std::unique_ptr<char[]>> free_;
};

// Bytes in flight in one direction: [begin, end) of a borrowed buffer.
class Chunk {
 public:
  bool empty() const { return begin_ == end_; }
  const char* data() const { return buf_.get() + begin_; }
  size_t size() const { return end_ - begin_; }

  // Space to fill (borrows a buffer if needed). Only called when empty().
  char* fillSpace(BufferPool& pool, size_t& room) {
    if (!buf_) buf_ = pool.take();
    begin_ = end_ = 0;
    room = BufferPool::kBufferSize;
    return buf_.get();
  }
  void filled(size_t n) { end_ += n; }
  // Marks `n` bytes as sent; gives the buffer back when nothing is left.
  void consumed(size_t n, BufferPool& pool) {
    begin_ += n;
    if (empty()) release(pool);
  }
  void release(BufferPool& pool) {
    pool.give(std::move(buf_));
    begin_ = end_ = 0;
  }

 private:
  std::unique_ptr<char[]> buf_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace tlsgate
