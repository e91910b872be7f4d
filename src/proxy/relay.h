// Relay: plaintext between two streams — the TLS client and its upstream (a plain TCP
// upstream, or a TLS origin that we re-encrypt to).
//
// Each direction has one borrowed 16 KiB chunk: read into it only when it is empty, so a
// slow receiver stops reading from the fast sender (back-pressure, bounded memory). A
// direction ends with its sender's EOF: the receiver's write side is shut (FIN, or
// close_notify towards a TLS peer) once the chunk is flushed. The relay is finished when
// both directions have ended (half-close works both ways).
#pragma once

#include <cstdint>
#include <utility>

#include "core/buffer_pool.h"
#include "proxy/progress.h"
#include "proxy/stream.h"
#include "stats/counters.h"

namespace tlsgate::proxy {

class Relay {
 public:
  // The streams are borrowed: they outlive the relay.
  Relay(Stream& client, Stream& upstream, BufferPool& pool, stats::CounterBlock& counters);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Moves bytes as far as readiness allows.
  Progress pump();

  // True if bytes moved since the last call (then clears it): the owner's inactivity timer
  // (relay.inactivity_timeout) uses it.
  bool takeActivity() { return std::exchange(activity_, false); }

  // Bytes delivered so far in each direction (the access log's bytes_in and bytes_out).
  uint64_t bytesToUpstream() const { return toUpstream_.delivered; }
  uint64_t bytesToClient() const { return toClient_.delivered; }

 private:
  // Where one direction is: open, its sender hit EOF (flush then end), or ended.
  enum class Flow : uint8_t { kOpen, kDraining, kEnded };
  struct Direction {
    Stream& from;
    Stream& to;
    stats::Counter bytes;
    Chunk chunk;
    Flow flow = Flow::kOpen;
    uint64_t delivered = 0;
  };

  // Moves what it can in one direction; false when nothing moved. `failed` on an error.
  bool pumpDirection(Direction& d, bool& failed);

  BufferPool& pool_;
  stats::CounterBlock& counters_;
  Direction toUpstream_;
  Direction toClient_;
  bool activity_ = false;
};

}  // namespace tlsgate::proxy
