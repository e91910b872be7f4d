#include "proxy/relay.h"

#include "core/log.h"

namespace tlsgate::proxy {

using stats::Counter;
using tls::IoStatus;

Relay::Relay(Stream& client, Stream& upstream, BufferPool& pool, stats::CounterBlock& counters)
    : pool_(pool),
      counters_(counters),
      toUpstream_{client, upstream, Counter::kRelayBytesClientToUpstream, {}},
      toClient_{upstream, client, Counter::kRelayBytesUpstreamToClient, {}} {}

Relay::~Relay() {
  toUpstream_.chunk.release(pool_);
  toClient_.chunk.release(pool_);
}

Progress Relay::pump() {
  bool failed = false;
  for (;;) {
    bool moved = pumpDirection(toUpstream_, failed);
    if (failed) return Progress::kFailed;
    moved |= pumpDirection(toClient_, failed);
    if (failed) return Progress::kFailed;
    if (!moved) break;
    activity_ = true;
  }
  if (toUpstream_.flow == Flow::kEnded && toClient_.flow == Flow::kEnded)
    return Progress::kFinished;
  return Progress::kWaiting;
}

bool Relay::pumpDirection(Direction& d, bool& failed) {
  bool moved = false;
  if (d.chunk.empty() && d.flow == Flow::kOpen && d.from.canRead()) {
    size_t room = 0;
    char* dst = d.chunk.fillSpace(pool_, room);
    tls::IoResult r = d.from.read(dst, room);
    switch (r.status) {
      case IoStatus::kOk:
        d.chunk.filled(r.bytes);
        moved = true;
        break;
      case IoStatus::kEof:
        d.flow = Flow::kDraining;
        moved = true;
        break;
      case IoStatus::kError:
        TG_DEBUG(log::kRelay, "relay read failed");
        failed = true;
        return false;
      case IoStatus::kWantRead:
      case IoStatus::kWantWrite:
        break;
    }
    if (d.chunk.empty()) d.chunk.release(pool_);
  }
  while (!d.chunk.empty() && d.to.canWrite()) {
    tls::IoResult r = d.to.write(d.chunk.data(), d.chunk.size());
    if (r.status == IoStatus::kOk) {
      counters_.add(d.bytes, r.bytes);
      d.delivered += r.bytes;
      d.chunk.consumed(r.bytes, pool_);
      moved = true;
    } else if (r.status == IoStatus::kEof || r.status == IoStatus::kError) {
      TG_DEBUG(log::kRelay, "relay write failed");
      failed = true;
      return false;
    } else {
      break;
    }
  }
  if (d.chunk.empty() && d.flow == Flow::kDraining) {
    tls::IoResult r = d.to.shutdownWrite();  // half-close: the receiver sees EOF
    if (r.status == IoStatus::kError) {
      failed = true;
      return false;
    }
    if (r.status == IoStatus::kOk) {
      d.flow = Flow::kEnded;
      moved = true;
    }
  }
  return moved;
}

}  // namespace tlsgate::proxy
