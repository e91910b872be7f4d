// The structures behind the plugin ABI's opaque handles (include/tlsgate/plugin.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include <memory>

#include "hooks/reactor_link.h"
#include "tls/ossl.h"

namespace tlsgate::tls {
struct CertEntry;
}

namespace tlsgate::hooks {
class HookRunner;
}

// One client connection as plugins see it. Reference-counted: the runner holds one
// reference while the connection lives, every call posted from another thread one more,
// and every turn a hook holds (it returned without completing) one more until its
// completing call arrives. So a connection closed while a hook holds it (S13) can go at
// once: it cancels the turn by leaving (`runner` becomes null), and the hook's completing
// call, whenever it comes, finds the handle alive and cancelled, and only releases the
// turn's reference.
struct tlsgate_vconn {
  tlsgate_vconn(std::shared_ptr<tlsgate::hooks::ReactorLink> l, uint64_t i)
      : link(std::move(l)), id(i) {}

  const std::shared_ptr<tlsgate::hooks::ReactorLink> link;  // to the connection's thread
  const uint64_t id;
  std::atomic<int> refs{1};
  tlsgate::hooks::HookRunner* runner = nullptr;  // touched on the reactor's thread only

  // True while a CERT hook holds the connection: the window for tlsgate_vconn_use_cert*.
  std::atomic<bool> heldAtCert{false};
  // A certificate chosen by a hook at CERT, possibly from another thread: an entry of the
  // store (its context) or a plugin's certificate.
  std::mutex certMutex;
  const tlsgate::tls::CertEntry* pendingEntry = nullptr;  // guarded by certMutex
  struct tlsgate_cert* pendingCert = nullptr;             // guarded by certMutex; owns a reference

  void ref() { refs.fetch_add(1, std::memory_order_relaxed); }
  void unref();
  // A hook holds the connection past its callback: the turn keeps the handle alive.
  void holdTurn() {
    heldTurns.fetch_add(1, std::memory_order_relaxed);
    ref();
  }
  // A held turn completed (or its completion found the connection gone).
  void releaseTurn() {
    int held = heldTurns.load(std::memory_order_relaxed);
    while (held > 0 && !heldTurns.compare_exchange_weak(held, held - 1)) {
    }
    if (held > 0) unref();
  }
  std::atomic<int> heldTurns{0};
};

// A certificate a plugin loaded (tlsgate_cert_from_pem): parsed once, installed on each
// connection's SSL that serves it (no SSL_CTX per certificate: creating one costs OpenSSL 3
// a millisecond).
struct tlsgate_cert {
  std::atomic<int> refs{1};
  tlsgate::ossl::UniquePtr<X509> leaf;
  tlsgate::ossl::UniquePtr<EVP_PKEY> key;
  tlsgate::ossl::UniquePtr<STACK_OF(X509)> chain;
};

namespace tlsgate::hooks {
void releaseCert(tlsgate_cert* cert);
}
