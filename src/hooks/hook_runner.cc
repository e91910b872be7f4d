#include "hooks/hook_runner.h"

#include <atomic>
#include <mutex>
#include <vector>

#include "core/log.h"
#include "hooks/hook_registry.h"
#include "hooks/vconn.h"
#include "tls/client_hello.h"

namespace tlsgate::hooks {

namespace {

std::atomic<uint64_t> nextId{1};

tlsgate_hook_point abiPoint(tls::HookPoint p) {
  return static_cast<tlsgate_hook_point>(p);
}

tls::HookVerdict verdictOf(Completion c) {
  switch (c) {
    case Completion::kReenable:
      return tls::HookVerdict::kContinue;
    case Completion::kError:
      return tls::HookVerdict::kError;
    case Completion::kTerminate:
      return tls::HookVerdict::kTerminate;
    case Completion::kTunnel:
      return tls::HookVerdict::kTunnel;
  }
  return tls::HookVerdict::kError;
}

}  // namespace

namespace {

// The handles of hooks still holding a connection when its worker stopped, each with one
// reference. Never destroyed, so they stay reachable (also for LeakSanitizer).
void keepUntilExit(tlsgate_vconn* vc) {
  static std::mutex mutex;
  static auto* kept = new std::vector<tlsgate_vconn*>;
  std::lock_guard lock(mutex);
  kept->push_back(vc);
}

}  // namespace

HookRunner::HookRunner(std::shared_ptr<ReactorLink> link, HookHost& host,
                       const tls::CertStore& store, const net::Address& client,
                       const net::Address& local)
    : host_(host),
      store_(store),
      client_(client),
      local_(local),
      vc_(new tlsgate_vconn(std::move(link), nextId.fetch_add(1, std::memory_order_relaxed))) {
  vc_->runner = this;
}

HookRunner::~HookRunner() {
  vc_->runner = nullptr;  // calls still in flight find the connection gone (S13)
  if (vc_->heldTurns.load() > 0) {
    // S13: a hook holds a turn it may still complete, from any thread, at any time, even
    // after the worker stopped: the turn's reference keeps the handle alive for that call.
    // A hook that never completes would leave the handle unreachable; when the worker
    // stops, it is kept reachable to the end of the process instead (never freed: the
    // plugin may still call).
    vc_->ref();
    vc_->link->onCut([vc = vc_] { keepUntilExit(vc); });
  }
  {
    std::lock_guard lock(vc_->certMutex);
    if (vc_->pendingCert) releaseCert(vc_->pendingCert);
    vc_->pendingCert = nullptr;
    vc_->pendingEntry = nullptr;
  }
  vc_->unref();
}

tls::HookVerdict HookRunner::run(tls::HookPoint point) {
  const size_t p = static_cast<size_t>(point);
  if (done_[p]) return *done_[p];
  // A hook still holds the connection: wait for it. VCONN_CLOSE does not wait for a hook of
  // another point, so that plugins learn that a connection they hold has ended.
  for (tls::HookPoint held : holds_)
    if (held == point || point != tls::HookPoint::kVconnClose) return tls::HookVerdict::kPending;
  const auto& chain = HookRegistry::instance().chain(abiPoint(point));
  while (next_[p] < chain.size()) {
    const HookEntry& hook = chain[next_[p]];
    holds_.push_back(point);
    if (point == tls::HookPoint::kCert) vc_->heldAtCert.store(true);
    completedInCallback_.reset();
    inCallback_ = true;
    hook.fn(vc_, abiPoint(point), hook.data);
    inCallback_ = false;
    if (!completedInCallback_) {  // S7/S10: paused; the turn holds the handle (S13)
      vc_->holdTurn();
      return tls::HookVerdict::kPending;
    }
    tls::HookVerdict v = finish(point, *completedInCallback_);
    if (v != tls::HookVerdict::kContinue) return v;
  }
  done_[p] = tls::HookVerdict::kContinue;
  return tls::HookVerdict::kContinue;
}

tls::HookVerdict HookRunner::finish(tls::HookPoint point, Completion c) {
  const size_t p = static_cast<size_t>(point);
  ++next_[p];
  tls::HookVerdict v = verdictOf(c);
  if (point == tls::HookPoint::kVconnClose) v = tls::HookVerdict::kContinue;  // only release
  if (v != tls::HookVerdict::kContinue) done_[p] = v;
  return v;
}

void HookRunner::complete(Completion c, std::string tunnelDestination) {
  if (holds_.empty()) return;  // more completing calls than turns: ignored
  if (c == Completion::kTunnel) tunnelDestination_ = std::move(tunnelDestination);
  if (inCallback_) {  // the turn of the callback running now (the newest hold)
    completedInCallback_ = c;
    if (holds_.back() == tls::HookPoint::kCert) vc_->heldAtCert.store(false);
    holds_.pop_back();
    return;
  }
  tls::HookPoint point = holds_.front();  // from elsewhere: the oldest hold
  if (point == tls::HookPoint::kCert) vc_->heldAtCert.store(false);
  holds_.pop_front();
  vc_->releaseTurn();
  finish(point, c);
  host_.onHookCompleted();  // the owner drives again; run() continues the chain
}

void HookRunner::applyCertificateOverride(SSL* ssl) {
  std::lock_guard lock(vc_->certMutex);
  if (vc_->pendingCert) {
    tlsgate_cert* cert = vc_->pendingCert;
    // The SSL takes its own references to certificate, key and chain.
    if (SSL_use_cert_and_key(ssl, cert->leaf.get(), cert->key.get(), cert->chain.get(), 1) != 1)
      TG_DEBUG(log::kSslError, "vconn %llu: the hook's certificate was refused: %s",
               static_cast<unsigned long long>(vc_->id), ossl::drainErrors().c_str());
    releaseCert(cert);
  } else if (vc_->pendingEntry) {
    tls::ServedCerts served;
    int hits = 0, misses = 0;
    if (!store().serve(ssl, *vc_->pendingEntry, served, hits, misses, /*fresh=*/false))
      TG_DEBUG(log::kSslError, "vconn %llu: the certificate chosen by name does not parse",
               static_cast<unsigned long long>(vc_->id));
  }
  vc_->pendingCert = nullptr;
  vc_->pendingEntry = nullptr;
}

void HookRunner::clientHelloRead(const tls::ClientHelloFacts& hello) {
  sni_ = hello.sni;
  alpnOffered_ = hello.alpn;
  ja4_ = hello.ja4;
}

const char* HookRunner::sni() const {
  return sni_.empty() ? nullptr : sni_.c_str();
}

const char* HookRunner::ja4() const {
  return ja4_.empty() ? nullptr : ja4_.c_str();
}

}  // namespace tlsgate::hooks
