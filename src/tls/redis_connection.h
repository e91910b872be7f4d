// RedisConnection: one synchronous hiredis connection with connect and command timeouts,
// shared by the Redis users of a fleet (the ticket key sync, tls/ticket_key_redis.h; the
// ACME client's shared state, acme/redis_state.h).
//
// After an I/O error, a timeout or a failed AUTH the hiredis context is unusable: the owner
// drops the connection and opens a new one on its next attempt. Replies are wiped
// (OPENSSL_cleanse) before hiredis frees them, since they may carry keys.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

// hiredis's types, declared here so that only the files that read replies include hiredis.
struct redisContext;
struct redisReply;

namespace tlsgate::tls {

struct RedisReplyDeleter {
  void operator()(redisReply* reply) const;
};
using RedisReply = std::unique_ptr<redisReply, RedisReplyDeleter>;

class RedisConnection {
 public:
  // Connects to host:port within `timeout`, sets `timeout` as the per-command timeout and
  // sends AUTH when `password` is not empty. nullptr with `error` set on failure.
  static std::unique_ptr<RedisConnection> open(const std::string& host, uint16_t port,
                                               const std::string& password,
                                               std::chrono::milliseconds timeout,
                                               std::string& error);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // The reply, or nullptr with `error` set (I/O error, timeout, or an error reply).
  RedisReply run(std::initializer_list<std::string_view> args, std::string& error);
  RedisReply run(const std::vector<std::string_view>& args, std::string& error);

 private:
  explicit RedisConnection(redisContext* ctx) : ctx_(ctx) {}
  redisContext* ctx_;
};

// "host:pid:8 random hex digits": the value a fleet member writes into a lease, readable in
// `redis-cli GET`, unique even for two instances in one container.
std::string makeRedisInstanceId();

}  // namespace tlsgate::tls
