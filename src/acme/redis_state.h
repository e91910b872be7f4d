// RedisState: the ACME client's fleet state (acme/shared_state.h) in Redis, with the same
// connection settings as the ticket key sync (address, key_prefix, password_file; 1 s
// connect and command timeouts) and the same connection code (tls/redis_connection.h).
//
// Keys, under the prefix (default "tlsgate:acme:"):
//   lease:<id>              string: the holder's instance id ("host:pid:random"), set with
//                           SET NX PX; renewed (PEXPIRE) and deleted only by its holder, each
//                           a Lua script that compares the holder first, atomically.
//   challenge:tls:<name>    hash: type, name, token, keyAuthorization, cert, key, with a PX
//   challenge:http:<token>  expiry, so a challenge its instance forgot disappears by itself.
//   challenges              set: the "tls:<name>" / "http:<token>" suffixes of the keys above,
//                           the index that makes challenges() O(pending) without a SCAN of
//                           the whole keyspace. A put writes the hash, its expiry and the set
//                           member in one MULTI/EXEC; challenges() is one Lua script that
//                           reads every member's hash and removes the members whose hash has
//                           expired, so the set never grows past the pending challenges plus
//                           the ones that expired since the last read. (A hash of encoded
//                           challenges with stored expiry times would need a clock shared by
//                           the instances, or Redis 7.4's per-field expiry; Redis's own
//                           key expiry needs neither.)
//   cert:<id>               hash: chain (PEM), key (PEM), updated (Unix time in ms).
//   account                 string: the fleet's ACME account key (PEM), set with SET NX.
//
// The challenges script names keys it computes from the prefix, which a standalone Redis
// (or a replica set with Sentinel) allows and Redis Cluster does not: Cluster is not
// supported, as for the ticket keys.
//
// Failures: a call that cannot connect, authenticate or get its reply within the timeout
// returns an Error and drops the connection; the next call connects again. No call retries
// by itself (the manager decides when to try again), so none blocks longer than a connect
// plus one command timeout.
//
// Secrets (private keys, key authorizations, the password) pass through here: replies are
// wiped before they are freed, and the password when the object dies. hiredis's own
// output buffer is not wiped (it does not let us), as for the ticket keys.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "acme/shared_state.h"
#include "tls/redis_connection.h"

namespace tlsgate::acme {

struct RedisStateOptions {
  std::string host;  // name or address of the Redis server
  uint16_t port = 6379;
  std::string keyPrefix = "tlsgate:acme:";
  std::string password;                     // sent with AUTH when not empty
  std::chrono::milliseconds timeout{1000};  // connect, and each command
};

class RedisState final : public SharedState {
 public:
  // Contacts nothing: the first call connects.
  explicit RedisState(RedisStateOptions options);
  ~RedisState() override;
  RedisState(const RedisState&) = delete;
  RedisState& operator=(const RedisState&) = delete;

  // What this instance writes into the leases it holds (tls::makeRedisInstanceId()).
  const std::string& instanceId() const { return instanceId_; }

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
  using Command = std::vector<std::string_view>;

  // One command; connects first when there is no connection. On any failure the
  // connection is dropped and the Error names the server. Callers hold mutex_.
  Result<tls::RedisReply> run(const Command& command);
  // MULTI, the commands, EXEC: all of them or none.
  Status transaction(const std::vector<Command>& commands);
  Result<bool> leaseScript(std::string_view script, const std::string& id,
                           std::chrono::milliseconds ttl);
  Error failure(const std::string& what);

  RedisStateOptions options_;
  const std::string instanceId_;
  std::mutex mutex_;
  std::unique_ptr<tls::RedisConnection> connection_;  // guarded by mutex_
};

}  // namespace tlsgate::acme
