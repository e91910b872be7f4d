// The Manager's challenges: served by this instance (tls-alpn-01 certificates in the managed
// store, http-01 tokens for the http listener) and, in fleet mode, put in Redis for the
// others, and taken from Redis when another instance orders.
#include <thread>

#include "acme/certificate_request.h"
#include "acme/client.h"
#include "acme/manager.h"
#include "acme/order_flow.h"
#include "acme/shared_state.h"
#include "acme/state_dir.h"
#include "core/log.h"

namespace tlsgate::acme {

namespace {

std::string slotOf(const SharedChallenge& c) {
  return c.type == "http-01" ? "http:" + c.token : "tls:" + c.name;
}

}  // namespace

class Manager::Sink final : public ChallengeSink {
 public:
  explicit Sink(Manager& m) : m_(m) {}

  Status publish(const Authorization& authz, const Challenge& challenge,
                 const std::string& keyAuthorization) override {
    SharedChallenge c{challenge.type, authz.identifier, challenge.token, keyAuthorization, {}, {}};
    if (challenge.type == "tls-alpn-01") {
      auto pem = tlsAlpnChallengeCertificate(authz.identifier, keyAuthorization);
      if (!pem) return pem.error();
      c.certPem = pem->certPem;
      c.keyPem = pem->keyPem;
    }
    m_.publishChallenge(c);
    if (!m_.fleet_) return Ok{};
    // Every instance must have it before the CA asks one of them: two poll intervals.
    if (auto st = m_.fleet_->putChallenge(c, std::chrono::minutes(10)); !st) return st;
    std::this_thread::sleep_for(2 * m_.options_.fleet->pollInterval +
                                std::chrono::milliseconds(200));
    return Ok{};
  }

  void withdraw(const Authorization& authz, const Challenge& challenge) override {
    SharedChallenge c{challenge.type, authz.identifier, challenge.token, {}, {}, {}};
    m_.withdrawChallenge(c);
    if (m_.fleet_) (void)m_.fleet_->removeChallenge(c);
  }

 private:
  Manager& m_;
};

Result<Issued> Manager::issueThroughSink(const IssueOptions& options) {
  Sink sink(*this);
  return issue(*client_, sink, options);
}

void Manager::publishChallenge(const SharedChallenge& c) {
  std::lock_guard lock(mutex_);
  if (c.type == "http-01") {
    tokens_[c.token] = c.keyAuthorization;
    if (store_) store_->putToken(c.token, c.keyAuthorization);
    return;
  }
  tlsChallenges_[c.name] = {c.certPem, c.keyPem};
  if (store_)
    if (auto st = store_->putChallenge(c.name, c.certPem, c.keyPem); !st)
      log::warning("acme: challenge for %s: %s", c.name.c_str(), st.error().toString().c_str());
}

void Manager::withdrawChallenge(const SharedChallenge& c) {
  std::lock_guard lock(mutex_);
  if (c.type == "http-01") {
    tokens_.erase(c.token);
    if (store_) store_->removeToken(c.token);
    return;
  }
  tlsChallenges_.erase(c.name);
  if (store_) store_->removeChallenge(c.name);
}

// The challenges other instances put in Redis, answered here too: polled every
// poll_interval on a thread of their own, because the orderer asks the CA to validate two
// poll intervals after putting a challenge in Redis. The run thread cannot do it: it sleeps
// in whole seconds, and it is busy for seconds while it orders a certificate itself (two
// instances ordering two certificates each need the other's challenges meanwhile).
void Manager::pollChallenges() {
  while (true) {
    auto pending = fleet_->challenges();
    if (pending) {
      takeChallenges(*pending);
    } else {
      counters_.add(stats::Counter::kAcmeFailures);
      TG_DEBUG(log::kNet, "acme: Redis: %s", pending.error().toString().c_str());
    }  // what is held keeps serving; the next poll retries
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, options_.fleet->pollInterval, [this] { return stopping_; })) return;
  }
}

void Manager::takeChallenges(const std::vector<SharedChallenge>& pending) {
  std::set<std::string> now;
  for (const SharedChallenge& c : pending) {
    const std::string slot = slotOf(c);
    now.insert(slot);
    if (!fleetChallenges_.contains(slot)) publishChallenge(c);
  }
  for (const std::string& slot : fleetChallenges_) {
    if (now.contains(slot)) continue;
    const bool http = slot.starts_with("http:");
    SharedChallenge gone{http ? "http-01" : "tls-alpn-01",
                         http ? "" : slot.substr(4),
                         http ? slot.substr(5) : "",
                         {},
                         {},
                         {}};
    withdrawChallenge(gone);
  }
  fleetChallenges_ = std::move(now);
}

// A certificate in Redis newer than the one held (another instance obtained or renewed it):
// served and stored here too. False when there is none (or Redis does not answer).
bool Manager::adoptFromFleet(Tracked& t) {
  const std::string& id = t.spec.names.front();
  auto shared = fleet_->certificate(id);
  if (!shared || !*shared) return false;
  if (t.held && t.held->chainPem == (*shared)->chainPem) return false;
  auto facts = certFacts((*shared)->chainPem);
  if (!facts || (t.held && facts->notAfter < t.held->notAfter)) return false;
  adopt(t, (*shared)->chainPem, (*shared)->keyPem);
  if (auto st = writeStoredCertificate(options_.stateDir, id,
                                       StoredCertificate{(*shared)->chainPem, (*shared)->keyPem});
      !st)
    log::warning("acme: %s", st.error().toString().c_str());
  return true;
}

// Once per pass of the run thread.
void Manager::syncFleet() {
  for (Tracked& t : tracked_) adoptFromFleet(t);
}

}  // namespace tlsgate::acme
