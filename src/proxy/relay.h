// Relay: plaintext between an established TLS client connection and a TCP upstream.
//
// Each direction has one borrowed 16 KiB chunk: read into it only when it is empty, so a
// slow receiver stops reading from the fast sender (back-pressure, bounded memory). A
// direction ends with its sender's EOF: client EOF → shutdown(SHUT_WR) towards the
// upstream once the chunk is flushed; upstream EOF → close_notify towards the client. The
// relay is finished when both directions have ended (half-close works both ways).
#pragma once

#include <cstdint>

#include "core/buffer_pool.h"
#include "core/fd.h"
#include "net/readiness.h"
#include "proxy/progress.h"
#include "stats/counters.h"
#include "tls/ossl.h"
#include "tls/socket_bio.h"

namespace tlsgate::proxy {

class Relay {
 public:
  Relay(SSL* ssl, tls::SocketIo& client, Fd upstream, BufferPool& pool,
        stats::CounterBlock& counters);
  ~Relay();

  // Readiness reported by epoll for the upstream socket.
  void upstreamReady(uint32_t events) { upstreamIo_.update(events); }
  // Moves bytes as far as readiness allows.
  Progress pump();

 private:
  // Where one direction is: open, its sender hit EOF (flush then end), or ended.
  enum class Flow : uint8_t { kOpen, kDraining, kEnded };

  bool pumpClientToUpstream(bool& failed);
  bool pumpUpstreamToClient(bool& failed);

  SSL* ssl_;
  tls::SocketIo& client_;
  Fd upstream_;
  net::Readiness upstreamIo_;  // of upstream_
  BufferPool& pool_;
  stats::CounterBlock& counters_;
  Chunk toUpstream_;
  Chunk toClient_;
  Flow clientFlow_ = Flow::kOpen;    // client → upstream
  Flow upstreamFlow_ = Flow::kOpen;  // upstream → client
  bool readWantsWrite_ = false;      // SSL_read asked for write readiness (key update, reneg)
  bool writeWantsRead_ = false;      // SSL_write asked for read readiness
};

}  // namespace tlsgate::proxy
