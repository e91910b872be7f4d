// The plugin ABI's functions (include/tlsgate/plugin.h), exported by the executable.
#include <openssl/pem.h>

#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "core/log.h"
#include "hooks/hook_runner.h"
#include "hooks/vconn.h"
#include "tls/cert_loader.h"

using tlsgate::hooks::Completion;
using tlsgate::hooks::HookRunner;

namespace tlsgate::hooks {

log::DebugTag kHooks("hooks");

void releaseCert(tlsgate_cert* cert) {
  if (cert && cert->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete cert;
}

namespace {

// A completing call: applied at once when made inside this connection's own callback,
// otherwise posted to the connection's thread (DESIGN principle 1), where it finds the
// connection gone if it was closed in between (S13).
// One reference to a handle, given back when the owner goes (also when a posted task is
// dropped without running because the worker stopped).
struct VconnRef {
  explicit VconnRef(tlsgate_vconn* v) : vc(v) { vc->ref(); }
  VconnRef(VconnRef&& o) noexcept : vc(std::exchange(o.vc, nullptr)) {}
  VconnRef(const VconnRef&) = delete;
  ~VconnRef() {
    if (vc) vc->unref();
  }
  tlsgate_vconn* vc;
};

void completeTurn(tlsgate_vconn* vc, Completion c, const char* destination) {
  if (!vc) return;
  std::string dest = destination ? destination : "";
  if (vc->link->inLoopThread() && vc->runner && vc->runner->inCallback()) {
    vc->runner->complete(c, std::move(dest));
    return;
  }
  auto task = [ref = std::make_shared<VconnRef>(vc), c, dest = std::move(dest)]() mutable {
    tlsgate_vconn* v = ref->vc;
    if (v->runner) {
      v->runner->complete(c, std::move(dest));
      return;
    }
    // S13: the connection closed while the hook held it; the turn was cancelled.
    v->releaseTurn();
    TG_DEBUG(kHooks, "vconn %llu: completion after close ignored",
             static_cast<unsigned long long>(v->id));
  };
  if (!vc->link->post(std::move(task))) {
    // The worker stopped: nothing will run the turn; the call ends it here.
    vc->releaseTurn();
    TG_DEBUG(kHooks, "vconn %llu: completion after shutdown dropped",
             static_cast<unsigned long long>(vc->id));
  }
}

// Only inside a callback, on the connection's thread.
HookRunner* runnerOf(tlsgate_vconn* vc) {
  return vc && vc->link->inLoopThread() ? vc->runner : nullptr;
}

}  // namespace
}  // namespace tlsgate::hooks

void tlsgate_vconn::unref() {
  if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

using namespace tlsgate;

extern "C" {

void tlsgate_vconn_reenable(tlsgate_vconn* vc) {
  hooks::completeTurn(vc, Completion::kReenable, nullptr);
}
void tlsgate_vconn_reenable_error(tlsgate_vconn* vc) {
  hooks::completeTurn(vc, Completion::kError, nullptr);
}
void tlsgate_vconn_terminate(tlsgate_vconn* vc) {
  hooks::completeTurn(vc, Completion::kTerminate, nullptr);
}
void tlsgate_vconn_tunnel(tlsgate_vconn* vc, const char* destination) {
  hooks::completeTurn(vc, Completion::kTunnel, destination);
}

const char* tlsgate_vconn_sni(tlsgate_vconn* vc) {
  HookRunner* r = hooks::runnerOf(vc);
  return r ? r->sni() : nullptr;
}

const char* tlsgate_vconn_ja4(tlsgate_vconn* vc) {
  HookRunner* r = hooks::runnerOf(vc);
  return r ? r->ja4() : nullptr;
}

const unsigned char* tlsgate_vconn_alpn_offered(tlsgate_vconn* vc, size_t* len) {
  HookRunner* r = hooks::runnerOf(vc);
  if (len) *len = r ? r->alpnOffered().size() : 0;
  if (!r || r->alpnOffered().empty()) return nullptr;
  return reinterpret_cast<const unsigned char*>(r->alpnOffered().data());
}

const struct sockaddr* tlsgate_vconn_client_addr(tlsgate_vconn* vc) {
  HookRunner* r = hooks::runnerOf(vc);
  return r ? r->client().sockaddrPtr() : nullptr;
}

const struct sockaddr* tlsgate_vconn_local_addr(tlsgate_vconn* vc) {
  HookRunner* r = hooks::runnerOf(vc);
  return r ? r->local().sockaddrPtr() : nullptr;
}

SSL* tlsgate_vconn_ssl(tlsgate_vconn* vc) {
  HookRunner* r = hooks::runnerOf(vc);
  return r ? r->ssl() : nullptr;
}

unsigned long long tlsgate_vconn_id(tlsgate_vconn* vc) {
  return vc ? vc->id : 0;
}

tlsgate_cert* tlsgate_cert_from_pem(const char* cert_pem, size_t cert_len, const char* key_pem,
                                    size_t key_len, char* err, size_t err_len) {
  auto parsed = tls::parseCertificatePem(std::string_view(cert_pem, cert_len),
                                         std::string_view(key_pem, key_len));
  if (!parsed) {
    if (err && err_len) std::snprintf(err, err_len, "%s", parsed.error().message.c_str());
    return nullptr;
  }
  auto* cert = new tlsgate_cert;
  cert->leaf = std::move(parsed->leaf);
  cert->key = std::move(parsed->key);
  cert->chain = std::move(parsed->chain);
  return cert;
}

tlsgate_cert* tlsgate_cert_ref(tlsgate_cert* cert) {
  if (cert) cert->refs.fetch_add(1, std::memory_order_relaxed);
  return cert;
}

void tlsgate_cert_release(tlsgate_cert* cert) {
  hooks::releaseCert(cert);
}

// Any thread, while the hook holds the connection at CERT. The runner reads the slot on
// the connection's thread when the CERT chain is done.
int tlsgate_vconn_use_cert(tlsgate_vconn* vc, tlsgate_cert* cert) {
  if (!vc || !cert || !vc->heldAtCert.load()) return -1;
  std::lock_guard lock(vc->certMutex);
  if (vc->pendingCert) hooks::releaseCert(vc->pendingCert);
  vc->pendingCert = tlsgate_cert_ref(cert);
  vc->pendingEntry = nullptr;
  return 0;
}

int tlsgate_vconn_use_cert_name(tlsgate_vconn* vc, const char* name) {
  if (!vc || !name || !vc->heldAtCert.load()) return -1;
  // The store is immutable and pinned by the held connection, so any thread may read it;
  // the runner pointer itself is only read to reach it while the connection is held.
  HookRunner* r = vc->runner;
  if (!r) return -1;
  const tls::CertEntry* entry = r->store().findByName(name);
  if (!entry) return -1;
  std::lock_guard lock(vc->certMutex);
  if (vc->pendingCert) hooks::releaseCert(vc->pendingCert);  // the last choice wins
  vc->pendingCert = nullptr;
  vc->pendingEntry = entry;
  return 0;
}

}  // extern "C"
