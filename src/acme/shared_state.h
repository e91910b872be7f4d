// SharedState: what the instances of a fleet share so that they act as one ACME client
// (acme/manager.h): the account key, who is ordering which certificate (a lease), the
// pending challenges (any instance may receive the CA's validation request, so every
// instance must be able to answer it), and the issued certificates.
//
// Two implementations: RedisState (acme/redis_state.h), the fleet's, and MemoryState below,
// one process's, for the manager's unit tests and for a gateway without a fleet.
//
// Every method returns an Error on failure (Redis down, timeout, bad reply); none throws,
// and none blocks longer than the implementation's timeouts. Methods may be called from
// several threads: each implementation serialises its calls.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace tlsgate::acme {

struct SharedChallenge {
  std::string type;              // "tls-alpn-01" or "http-01"
  std::string name;              // the identifier (tls-alpn-01 is looked up by name)
  std::string token;             // http-01 is looked up by token
  std::string keyAuthorization;  // http-01's answer
  std::string certPem, keyPem;   // tls-alpn-01's certificate
  bool operator==(const SharedChallenge&) const = default;
};

struct SharedCertificate {
  std::string id;
  std::string chainPem, keyPem;
  bool operator==(const SharedCertificate&) const = default;
};

// The identity of a challenge in the store: "tls:<name>" for tls-alpn-01, "http:<token>"
// for http-01 (a newer challenge with the same identity replaces the older one). An Error
// for another type or an empty name/token.
Result<std::string> challengeSlot(const SharedChallenge& challenge);

class SharedState {
 public:
  virtual ~SharedState() = default;

  // Only one instance orders a given certificate id at a time. tryLease takes the lease on
  // `id` for `ttl` when nobody holds it (true), or when this instance already holds it (true,
  // and extended); false when another instance holds it. renewLease extends it only if we
  // still hold it (false: it expired and maybe another instance took it); releaseLease
  // deletes it only if ours. A lease whose holder dies expires by itself after `ttl`.
  virtual Result<bool> tryLease(const std::string& id, std::chrono::milliseconds ttl) = 0;
  virtual Result<bool> renewLease(const std::string& id, std::chrono::milliseconds ttl) = 0;
  virtual Status releaseLease(const std::string& id) = 0;

  // A pending challenge, visible to every instance until removed or `ttl` has passed.
  virtual Status putChallenge(const SharedChallenge& challenge, std::chrono::milliseconds ttl) = 0;
  virtual Status removeChallenge(const SharedChallenge& challenge) = 0;  // by challengeSlot
  virtual Result<std::vector<SharedChallenge>> challenges() = 0;         // all pending ones

  // The last certificate issued for `id` (replaced whole by each put).
  virtual Status putCertificate(const SharedCertificate& certificate) = 0;
  virtual Result<std::optional<SharedCertificate>> certificate(const std::string& id) = 0;

  // The fleet's ACME account key. The first instance to put one wins (true); the others
  // (false) read it back and use that one.
  virtual Result<std::optional<std::string>> accountKeyPem() = 0;
  virtual Result<bool> putAccountKeyPemIfAbsent(const std::string& pem) = 0;
};

// Everything in this process's memory. anotherInstance() gives a second view of the same
// store with its own lease holder identity, as a second tlsgate on the same Redis would be:
// tests of the lease need two.
class MemoryState final : public SharedState {
 public:
  MemoryState();
  std::unique_ptr<MemoryState> anotherInstance() const;

  Result<bool> tryLease(const std::string& id, std::chrono::milliseconds ttl) override;
  Result<bool> renewLease(const std::string& id, std::chrono::milliseconds ttl) override;
  Status releaseLease(const std::string& id) override;
  Status putChallenge(const SharedChallenge& challenge, std::chrono::milliseconds ttl) override;
  Status removeChallenge(const SharedChallenge& challenge) override;
  Result<std::vector<SharedChallenge>> challenges() override;
  Status putCertificate(const SharedCertificate& certificate) override;
  Result<std::optional<SharedCertificate>> certificate(const std::string& id) override;
  Result<std::optional<std::string>> accountKeyPem() override;
  Result<bool> putAccountKeyPemIfAbsent(const std::string& pem) override;

 private:
  struct Store;
  MemoryState(std::shared_ptr<Store> store, int holder);

  const std::shared_ptr<Store> store_;
  const int holder_;  // this instance's identity in leases
};

}  // namespace tlsgate::acme
