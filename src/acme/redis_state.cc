#include "acme/redis_state.h"

#include <hiredis/hiredis.h>
#include <openssl/crypto.h>

namespace tlsgate::acme {

namespace {

// KEYS[1] the lease, ARGV[1] our instance id, ARGV[2] the ttl in ms: extends the lease only
// while we hold it. Compare and extend in one script, so a lease that expired and was taken
// by another instance between the two is never extended.
constexpr std::string_view kRenewLease =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";

// KEYS[1] the lease, ARGV[1] our instance id: deletes it only while we hold it.
constexpr std::string_view kReleaseLease =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('DEL', KEYS[1]) end return 0";

// KEYS[1] the index set, ARGV[1] the challenge key prefix: each pending challenge as the
// fields of kChallengeFields; the members whose hash has expired leave the index.
constexpr std::string_view kReadChallenges =
    "local pending = {} "
    "for _, slot in ipairs(redis.call('SMEMBERS', KEYS[1])) do "
    "  local fields = redis.call('HMGET', ARGV[1] .. slot, "
    "    'type', 'name', 'token', 'keyAuthorization', 'cert', 'key') "
    "  if fields[1] then pending[#pending + 1] = fields "
    "  else redis.call('SREM', KEYS[1], slot) end "
    "end "
    "return pending";

int64_t unixNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string text(const redisReply* reply) {
  if (!reply || reply->type != REDIS_REPLY_STRING) return {};
  return std::string(reply->str, reply->len);
}

Status checkTtl(std::chrono::milliseconds ttl) {
  if (ttl.count() < 1) return Error("", 0, "a lease or challenge needs a positive time to live");
  return Ok{};
}

}  // namespace

RedisState::RedisState(RedisStateOptions options)
    : options_(std::move(options)), instanceId_(tls::makeRedisInstanceId()) {}

RedisState::~RedisState() {
  OPENSSL_cleanse(options_.password.data(), options_.password.size());
}

Error RedisState::failure(const std::string& what) {
  connection_.reset();
  return Error("", 0, "Redis " + options_.host + ":" + std::to_string(options_.port) + ": " + what);
}

Result<tls::RedisReply> RedisState::run(const Command& command) {
  std::string error;
  if (!connection_)
    connection_ = tls::RedisConnection::open(options_.host, options_.port, options_.password,
                                             options_.timeout, error);
  if (!connection_) return failure(error);
  auto reply = connection_->run(command, error);
  if (!reply) return failure(std::string(command.front()) + ": " + error);
  return reply;
}

Status RedisState::transaction(const std::vector<Command>& commands) {
  if (auto multi = run({"MULTI"}); !multi) return multi.error();
  for (const auto& command : commands)
    if (auto queued = run(command); !queued) return queued.error();
  auto exec = run({"EXEC"});
  if (!exec) return exec.error();
  const redisReply* results = exec->get();
  if (results->type != REDIS_REPLY_ARRAY || results->elements != commands.size())
    return failure("EXEC: the transaction did not run");
  for (size_t i = 0; i < results->elements; ++i)
    if (results->element[i]->type == REDIS_REPLY_ERROR)
      return failure(std::string(commands[i].front()) + ": " +
                     std::string(results->element[i]->str, results->element[i]->len));
  return Ok{};
}

Result<bool> RedisState::leaseScript(std::string_view script, const std::string& id,
                                     std::chrono::milliseconds ttl) {
  const std::string key = options_.keyPrefix + "lease:" + id;
  const std::string ms = std::to_string(ttl.count());
  auto reply = run({"EVAL", script, "1", key, instanceId_, ms});
  if (!reply) return reply.error();
  return (*reply)->type == REDIS_REPLY_INTEGER && (*reply)->integer == 1;
}

Result<bool> RedisState::tryLease(const std::string& id, std::chrono::milliseconds ttl) {
  if (auto ok = checkTtl(ttl); !ok) return ok.error();
  std::lock_guard lock(mutex_);
  const std::string key = options_.keyPrefix + "lease:" + id;
  const std::string ms = std::to_string(ttl.count());
  auto set = run({"SET", key, instanceId_, "NX", "PX", ms});
  if (!set) return set.error();
  if ((*set)->type == REDIS_REPLY_STATUS) return true;
  return leaseScript(kRenewLease, id, ttl);  // taken: by us already?
}

Result<bool> RedisState::renewLease(const std::string& id, std::chrono::milliseconds ttl) {
  if (auto ok = checkTtl(ttl); !ok) return ok.error();
  std::lock_guard lock(mutex_);
  return leaseScript(kRenewLease, id, ttl);
}

Status RedisState::releaseLease(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto released = leaseScript(kReleaseLease, id, std::chrono::milliseconds(0));
  if (!released) return released.error();
  return Ok{};
}

Status RedisState::putChallenge(const SharedChallenge& challenge, std::chrono::milliseconds ttl) {
  auto slot = challengeSlot(challenge);
  if (!slot) return slot.error();
  if (auto ok = checkTtl(ttl); !ok) return ok.error();
  std::lock_guard lock(mutex_);
  const std::string key = options_.keyPrefix + "challenge:" + *slot;
  const std::string ms = std::to_string(ttl.count());
  return transaction({{"HSET", key, "type", challenge.type, "name", challenge.name, "token",
                       challenge.token, "keyAuthorization", challenge.keyAuthorization, "cert",
                       challenge.certPem, "key", challenge.keyPem},
                      {"PEXPIRE", key, ms},
                      {"SADD", options_.keyPrefix + "challenges", *slot}});
}

Status RedisState::removeChallenge(const SharedChallenge& challenge) {
  auto slot = challengeSlot(challenge);
  if (!slot) return slot.error();
  std::lock_guard lock(mutex_);
  const std::string key = options_.keyPrefix + "challenge:" + *slot;
  return transaction({{"DEL", key}, {"SREM", options_.keyPrefix + "challenges", *slot}});
}

Result<std::vector<SharedChallenge>> RedisState::challenges() {
  std::lock_guard lock(mutex_);
  const std::string index = options_.keyPrefix + "challenges";
  const std::string keys = options_.keyPrefix + "challenge:";
  auto reply = run({"EVAL", kReadChallenges, "1", index, keys});
  if (!reply) return reply.error();
  const redisReply* all = reply->get();
  if (all->type != REDIS_REPLY_ARRAY) return failure("challenges: not an array");
  std::vector<SharedChallenge> pending;
  for (size_t i = 0; i < all->elements; ++i) {
    const redisReply* f = all->element[i];
    if (f->type != REDIS_REPLY_ARRAY || f->elements != 6)
      return failure("challenges: a challenge that is not 6 fields");
    pending.push_back({text(f->element[0]), text(f->element[1]), text(f->element[2]),
                       text(f->element[3]), text(f->element[4]), text(f->element[5])});
  }
  return pending;
}

Status RedisState::putCertificate(const SharedCertificate& certificate) {
  std::lock_guard lock(mutex_);
  const std::string key = options_.keyPrefix + "cert:" + certificate.id;
  const std::string updated = std::to_string(unixNowMs());
  auto reply = run(
      {"HSET", key, "chain", certificate.chainPem, "key", certificate.keyPem, "updated", updated});
  if (!reply) return reply.error();
  return Ok{};
}

Result<std::optional<SharedCertificate>> RedisState::certificate(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto reply = run({"HMGET", options_.keyPrefix + "cert:" + id, "chain", "key"});
  if (!reply) return reply.error();
  const redisReply* fields = reply->get();
  if (fields->type != REDIS_REPLY_ARRAY || fields->elements != 2)
    return failure("HMGET: not two fields");
  if (fields->element[0]->type != REDIS_REPLY_STRING) return std::optional<SharedCertificate>();
  return std::optional<SharedCertificate>(
      SharedCertificate{id, text(fields->element[0]), text(fields->element[1])});
}

Result<std::optional<std::string>> RedisState::accountKeyPem() {
  std::lock_guard lock(mutex_);
  auto reply = run({"GET", options_.keyPrefix + "account"});
  if (!reply) return reply.error();
  if ((*reply)->type != REDIS_REPLY_STRING) return std::optional<std::string>();
  return std::optional<std::string>(text(reply->get()));
}

Result<bool> RedisState::putAccountKeyPemIfAbsent(const std::string& pem) {
  std::lock_guard lock(mutex_);
  auto reply = run({"SET", options_.keyPrefix + "account", pem, "NX"});
  if (!reply) return reply.error();
  return (*reply)->type == REDIS_REPLY_STATUS;
}

}  // namespace tlsgate::acme
