#include "acme/shared_state.h"

#include <map>

namespace tlsgate::acme {

namespace {

using Clock = std::chrono::steady_clock;

struct Lease {
  int holder = 0;
  Clock::time_point expires = {};
};

struct PendingChallenge {
  SharedChallenge challenge;
  Clock::time_point expires = {};
};

Status checkTtl(std::chrono::milliseconds ttl) {
  if (ttl.count() < 1) return Error("", 0, "a lease or challenge needs a positive time to live");
  return Ok{};
}

}  // namespace

Result<std::string> challengeSlot(const SharedChallenge& challenge) {
  if (challenge.type == "tls-alpn-01" && !challenge.name.empty()) return "tls:" + challenge.name;
  if (challenge.type == "http-01" && !challenge.token.empty()) return "http:" + challenge.token;
  return Error("", 0,
               "a shared challenge is tls-alpn-01 with a name or http-01 with a token, not '" +
                   challenge.type + "' for '" + challenge.name + "'");
}

// The "server": what every MemoryState made by anotherInstance() shares.
struct MemoryState::Store {
  std::mutex mutex;
  int nextHolder = 1;
  std::map<std::string, Lease> leases;                 // by certificate id
  std::map<std::string, PendingChallenge> challenges;  // by challengeSlot
  std::map<std::string, SharedCertificate> certificates;
  std::optional<std::string> accountKeyPem;

  // Expiry as Redis has it: an expired entry is simply gone.
  void dropExpired(Clock::time_point now) {
    std::erase_if(leases, [now](const auto& e) { return e.second.expires <= now; });
    std::erase_if(challenges, [now](const auto& e) { return e.second.expires <= now; });
  }
};

MemoryState::MemoryState() : MemoryState(std::make_shared<Store>(), 0) {}

MemoryState::MemoryState(std::shared_ptr<Store> store, int holder)
    : store_(std::move(store)), holder_(holder) {}

std::unique_ptr<MemoryState> MemoryState::anotherInstance() const {
  std::lock_guard lock(store_->mutex);
  return std::unique_ptr<MemoryState>(new MemoryState(store_, store_->nextHolder++));
}

Result<bool> MemoryState::tryLease(const std::string& id, std::chrono::milliseconds ttl) {
  if (auto ok = checkTtl(ttl); !ok) return ok.error();
  std::lock_guard lock(store_->mutex);
  const auto now = Clock::now();
  store_->dropExpired(now);
  auto [lease, inserted] = store_->leases.try_emplace(id, Lease{holder_, now + ttl});
  if (!inserted && lease->second.holder != holder_) return false;
  lease->second.expires = now + ttl;
  return true;
}

Result<bool> MemoryState::renewLease(const std::string& id, std::chrono::milliseconds ttl) {
  if (auto ok = checkTtl(ttl); !ok) return ok.error();
  std::lock_guard lock(store_->mutex);
  const auto now = Clock::now();
  store_->dropExpired(now);
  auto lease = store_->leases.find(id);
  if (lease == store_->leases.end() || lease->second.holder != holder_) return false;
  lease->second.expires = now + ttl;
  return true;
}

Status MemoryState::releaseLease(const std::string& id) {
  std::lock_guard lock(store_->mutex);
  store_->dropExpired(Clock::now());
  auto lease = store_->leases.find(id);
  if (lease != store_->leases.end() && lease->second.holder == holder_) store_->leases.erase(lease);
  return Ok{};
}

Status MemoryState::putChallenge(const SharedChallenge& challenge, std::chrono::milliseconds ttl) {
  auto slot = challengeSlot(challenge);
  if (!slot) return slot.error();
  if (auto ok = checkTtl(ttl); !ok) return ok.error();
  std::lock_guard lock(store_->mutex);
  store_->challenges[*slot] = {challenge, Clock::now() + ttl};
  return Ok{};
}

Status MemoryState::removeChallenge(const SharedChallenge& challenge) {
  auto slot = challengeSlot(challenge);
  if (!slot) return slot.error();
  std::lock_guard lock(store_->mutex);
  store_->challenges.erase(*slot);
  return Ok{};
}

Result<std::vector<SharedChallenge>> MemoryState::challenges() {
  std::lock_guard lock(store_->mutex);
  store_->dropExpired(Clock::now());
  std::vector<SharedChallenge> pending;
  for (const auto& [slot, entry] : store_->challenges) pending.push_back(entry.challenge);
  return pending;
}

Status MemoryState::putCertificate(const SharedCertificate& certificate) {
  std::lock_guard lock(store_->mutex);
  store_->certificates[certificate.id] = certificate;
  return Ok{};
}

Result<std::optional<SharedCertificate>> MemoryState::certificate(const std::string& id) {
  std::lock_guard lock(store_->mutex);
  auto found = store_->certificates.find(id);
  if (found == store_->certificates.end()) return std::optional<SharedCertificate>();
  return std::optional<SharedCertificate>(found->second);
}

Result<std::optional<std::string>> MemoryState::accountKeyPem() {
  std::lock_guard lock(store_->mutex);
  return store_->accountKeyPem;
}

Result<bool> MemoryState::putAccountKeyPemIfAbsent(const std::string& pem) {
  std::lock_guard lock(store_->mutex);
  if (store_->accountKeyPem) return false;
  store_->accountKeyPem = pem;
  return true;
}

}  // namespace tlsgate::acme
