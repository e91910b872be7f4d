#include "acme/manager.h"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>

#include "acme/certificate_request.h"
#include "acme/client.h"
#include "acme/jws.h"
#include "acme/order_flow.h"
#include "acme/redis_state.h"
#include "acme/renewal.h"
#include "acme/shared_state.h"
#include "acme/state_dir.h"
#include "core/log.h"
#include "core/signal_free_thread.h"
#include "core/thread_name.h"

namespace tlsgate::acme {

namespace {

using stats::Counter;

std::time_t now() {
  return std::time(nullptr);
}

double random01() {
  uint32_t r = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&r), sizeof r);
  return static_cast<double>(r) / 4294967295.0;
}

KeyType keyTypeOf(CertKeyType t) {
  return t == CertKeyType::kRsa2048 ? KeyType::kRsa2048 : KeyType::kEcdsaP256;
}

// The account key: the fleet's (the first instance to start puts its own), else the file's,
// else a new one written to the file 0600.
Result<AccountKey> loadAccountKey(const ManagerOptions& o, SharedState* fleet) {
  auto file = readKeyFile(o.accountKeyFile);
  if (!file) return file.error();
  std::optional<std::string> pem = *file;
  if (fleet) {
    auto shared = fleet->accountKeyPem();
    if (!shared) return shared.error();
    if (!*shared) {
      if (!pem) {
        auto fresh = AccountKey::generate();
        if (!fresh) return fresh.error();
        pem = fresh->toPem();
      }
      auto put = fleet->putAccountKeyPemIfAbsent(*pem);
      if (!put) return put.error();
      shared = fleet->accountKeyPem();
      if (!shared || !*shared) return Error{"", 0, "the fleet's account key vanished from Redis"};
    }
    pem = **shared;
  }
  if (!pem) {
    auto fresh = AccountKey::generate();
    if (!fresh) return fresh.error();
    pem = fresh->toPem();
  }
  if (!file->has_value() || **file != *pem)
    if (auto st = writeKeyFile(o.accountKeyFile, *pem); !st) return st.error();
  return AccountKey::fromPem(*pem, o.accountKeyFile);
}

}  // namespace

Manager::Manager(ManagerOptions options, stats::CounterBlock& counters)
    : options_(std::move(options)), counters_(counters) {
  for (const auto& spec : options_.certificates) tracked_.push_back(Tracked{spec, {}, 0, 0, 0});
  if (options_.onDemand)
    onDemand_ = std::make_shared<OnDemandQueue>(*options_.onDemand, [this] {
      {
        std::lock_guard lock(mutex_);
        onDemandQueued_ = true;
      }
      wake_.notify_all();
    });
}

Manager::~Manager() {
  stop();
}

void Manager::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  if (onDemand_) onDemand_->detach();
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (challengeThread_.joinable()) challengeThread_.join();
}

void Manager::attach(std::shared_ptr<tls::ManagedCertStore> store) {
  std::lock_guard lock(mutex_);
  store_ = std::move(store);
  if (onDemand_) store_->setOnDemand(onDemand_);
  for (const auto& [id, cert] : published_)
    if (auto st = store_->put(cert); !st)
      log::warning("acme: %s: %s", id.c_str(), st.error().toString().c_str());
  for (const auto& [name, pem] : tlsChallenges_)
    (void)store_->putChallenge(name, pem.first, pem.second);
  for (const auto& [token, keyAuth] : tokens_) store_->putToken(token, keyAuth);
}

std::optional<std::string> Manager::keyAuthorization(std::string_view token) const {
  std::lock_guard lock(mutex_);
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return std::nullopt;
  return it->second;
}

void Manager::start() {
  if (options_.fleet) {
    const FleetOptions& f = *options_.fleet;
    fleet_ = std::make_unique<RedisState>(RedisStateOptions{f.host, f.port, f.keyPrefix, f.password,
                                                            std::chrono::milliseconds(1000)});
  }
  for (Tracked& t : tracked_) loadStored(t);
  thread_ = startSignalFreeThread([this] {
    nameThisThread("acme");
    run();
  });
  if (fleet_)
    challengeThread_ = startSignalFreeThread([this] {
      nameThisThread("acme-redis");
      pollChallenges();
    });
}

// What a restart finds in the state directory is served at once, whatever its issuer.
void Manager::loadStored(Tracked& t) {
  const std::string& id = t.spec.names.front();
  auto stored = readStoredCertificate(options_.stateDir, id);
  if (!stored) {
    log::warning("acme: %s: %s", id.c_str(), stored.error().toString().c_str());
    return;
  }
  if (*stored) adopt(t, (*stored)->chainPem, (*stored)->keyPem);
}

void Manager::run() {
  while (true) {
    if (onDemand_) serveOnDemand();
    if (fleet_) syncFleet();
    std::time_t next = now() + 3600;
    for (Tracked& t : tracked_) {
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
      }
      if (t.nextAttempt <= now()) attempt(t);
      next = std::min(next, t.nextAttempt);
    }
    if (fleet_) {
      const auto poll =
          std::chrono::duration_cast<std::chrono::seconds>(options_.fleet->pollInterval);
      next = std::min(next, now() + std::max<std::time_t>(1, poll.count()));
    }
    if (!sleepUntil(next)) return;
  }
}

bool Manager::sleepUntil(std::time_t when) {
  std::unique_lock lock(mutex_);
  wake_.wait_until(lock, std::chrono::system_clock::from_time_t(when),
                   [this] { return stopping_ || onDemandQueued_; });
  return !stopping_;
}

bool Manager::ensureClient() {
  if (client_) return true;
  auto key = loadAccountKey(options_, fleet_.get());
  if (!key) {
    log::warning("acme: account key: %s", key.error().toString().c_str());
    return false;
  }
  auto client = std::make_unique<Client>(
      ClientOptions{options_.directoryUrl, options_.caFile, options_.contact}, std::move(*key));
  if (auto st = client->connect(); !st) {
    log::warning("acme: %s", st.error().toString().c_str());
    return false;
  }
  if (auto kid = client->account(); !kid) {
    log::warning("acme: account: %s", kid.error().toString().c_str());
    return false;
  }
  client_ = std::move(client);
  return true;
}

// One order for `t`: always in fleet mode under the certificate's lease, so that one
// instance of the fleet orders a name at a time.
void Manager::attempt(Tracked& t) {
  const std::string& id = t.spec.names.front();
  if (!ensureClient()) return failed(t, "cannot reach the ACME server or its account", false);
  constexpr auto kDeadline = std::chrono::seconds(300);
  if (fleet_) {
    auto lease = fleet_->tryLease(id, kDeadline + std::chrono::seconds(60));
    if (!lease) return failed(t, "Redis: " + lease.error().toString(), false);
    if (!*lease) {  // another instance orders it; its certificate arrives through Redis
      t.nextAttempt = now() + 10;
      return;
    }
    // The holder before us may have put a certificate in Redis just before it let go.
    if (adoptFromFleet(t) && t.nextAttempt > now()) {
      (void)fleet_->releaseLease(id);
      return;
    }
  }
  IssueOptions io;
  io.names = t.spec.names;
  io.keyType = keyTypeOf(options_.keyType);
  io.challengeTypes = options_.challenges;
  io.deadline = kDeadline;
  io.stopping = [this] {
    std::lock_guard lock(mutex_);
    return stopping_;
  };
  if (t.held && client_->offersRenewalInfo())
    if (auto facts = certFacts(t.held->chainPem); facts && !facts->ariCertId.empty())
      if (client_->renewalInfo(facts->ariCertId)) io.replacesCertId = facts->ariCertId;
  counters_.add(Counter::kAcmeOrders);
  auto issued = issueThroughSink(io);
  if (!issued) {
    if (fleet_) (void)fleet_->releaseLease(id);
    return failed(t, issued.error().toString(), true);
  }
  const bool renewal = t.held.has_value();
  adopt(t, issued->chainPem, issued->keyPem);
  if (auto st = writeStoredCertificate(options_.stateDir, id,
                                       StoredCertificate{issued->chainPem, issued->keyPem});
      !st)
    log::warning("acme: %s: %s", id.c_str(), st.error().toString().c_str());
  if (fleet_) {  // the certificate first: whoever takes the lease next finds it
    if (auto st = fleet_->putCertificate(SharedCertificate{id, issued->chainPem, issued->keyPem});
        !st)
      log::warning("acme: %s: Redis: %s", id.c_str(), st.error().toString().c_str());
    (void)fleet_->releaseLease(id);
  }
  if (renewal) counters_.add(Counter::kAcmeRenewals);
  log::info("acme: %s: %s certificate for %zu name(s) serving", id.c_str(),
            renewal ? "renewed" : "new", t.spec.names.size());
}

// A failure keeps what is held serving; the client is made afresh next time (a CA that
// restarted has forgotten the account).
void Manager::failed(Tracked& t, const std::string& why, bool ordered) {
  const std::string& id = t.spec.names.front();
  counters_.add(Counter::kAcmeFailures);
  if (ordered) counters_.add(Counter::kAcmeOrdersFailed);
  // Nothing held yet: nothing expires, the back-off alone paces the retries.
  const std::time_t notAfter = t.held ? t.held->notAfter : now() + 365 * 86400;
  std::chrono::seconds wait = failureBackoff(++t.failures, now(), notAfter);
  if (client_) wait = std::max(wait, client_->lastRetryAfter());
  client_.reset();
  t.nextAttempt = now() + wait.count();
  log::warning("acme: %s: %s; retrying in %lld s", id.c_str(), why.c_str(),
               static_cast<long long>(wait.count()));
}

// Serves a certificate (stored, issued, or from the fleet) and plans its renewal.
void Manager::adopt(Tracked& t, const std::string& chainPem, const std::string& keyPem) {
  const std::string& id = t.spec.names.front();
  auto facts = certFacts(chainPem);
  if (!facts) {
    log::warning("acme: %s: %s", id.c_str(), facts.error().toString().c_str());
    return;
  }
  tls::ManagedCert cert{id, t.spec.names, chainPem, keyPem, facts->notAfter, 0};
  t.notBefore = facts->notBefore;
  t.held = cert;
  t.failures = 0;
  schedule(t);
  // The names it was ordered for; a stored one ordered for other names is renewed now.
  std::vector<std::string> want = t.spec.names, have = facts->names;
  std::sort(want.begin(), want.end());
  std::sort(have.begin(), have.end());
  if (want != have) t.nextAttempt = now();
  t.held->nextRenewal = t.nextAttempt;
  std::lock_guard lock(mutex_);
  published_[id] = *t.held;
  if (store_)
    if (auto st = store_->put(*t.held); !st)
      log::warning("acme: %s: %s", id.c_str(), st.error().toString().c_str());
}

void Manager::schedule(Tracked& t) {
  RenewalPolicy policy;
  policy.remainingShare = options_.renewRemaining;
  t.nextAttempt = renewalTime(t.notBefore, t.held->notAfter, policy, random01());
  if (client_ && client_->offersRenewalInfo())
    if (auto facts = certFacts(t.held->chainPem); facts && !facts->ariCertId.empty())
      if (auto window = client_->renewalInfo(facts->ariCertId))
        t.nextAttempt = std::min(t.nextAttempt, ariRenewalTime(*window, random01()));
}

}  // namespace tlsgate::acme
