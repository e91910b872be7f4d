// MemoryTrim: gives the memory a burst of connections left free back to the kernel.
//
// glibc's malloc keeps what a thread freed in that thread's arena for reuse: after a burst
// of thousands of connections the process keeps its peak RSS although nothing uses it
// (90 MB after 5,000 idle TLS connections closed; 15 MB once trimmed). malloc_trim() hands
// the free pages back. It walks every arena, so it is called rarely: a while after a
// worker's connection count fell to a quarter of a peak that was worth it.
#pragma once

#include <cstddef>

namespace tlsgate {

class MemoryTrim {
 public:
  // A peak below this many connections leaves too little to be worth a trim.
  static constexpr size_t kMinPeak = 256;

  // The worker's live connection count changed to `live`. True when a trim is due now
  // that the count fell well below its peak (the caller trims after a quiet moment).
  bool changed(size_t live) {
    if (live > peak_) peak_ = live;
    return peak_ >= kMinPeak && live * 4 < peak_;
  }
  // Returns free memory to the kernel; the next peak is counted from `live`.
  void trim(size_t live);

 private:
  size_t peak_ = 0;
};

}  // namespace tlsgate
