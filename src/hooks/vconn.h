// The structures behind the plugin ABI's opaque handles (include/tlsgate/plugin.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include <memory>

#include "hooks/reactor_link.h"
#include "tls/ossl.h"

namespace tlsgate::hooks {
class HookRunner;
}

// One client connection as plugins see it. Reference-counted: the runner holds one
// reference while the connection lives, every call posted from another thread one more, so
// a completing call that arrives after the connection is gone finds `runner` null and does
// nothing (S13).
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
  SSL_CTX* pendingCtx = nullptr;               // guarded by certMutex
  struct tlsgate_cert* pendingCert = nullptr;  // guarded by certMutex; owns a reference

  void ref() { refs.fetch_add(1, std::memory_order_relaxed); }
  void unref();
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
