#include "tls/redis_connection.h"

#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cstdio>

namespace tlsgate::tls {

namespace {

void wipeReply(redisReply* reply) {
  // RESP2 only (no HELLO 3 is sent): strings and arrays are the replies that hold bytes.
  if (reply->type == REDIS_REPLY_STRING && reply->str) OPENSSL_cleanse(reply->str, reply->len);
  if (reply->type == REDIS_REPLY_ARRAY)
    for (size_t i = 0; i < reply->elements; ++i)
      if (reply->element[i]) wipeReply(reply->element[i]);
}

}  // namespace

void RedisReplyDeleter::operator()(redisReply* reply) const {
  wipeReply(reply);
  freeReplyObject(reply);
}

std::unique_ptr<RedisConnection> RedisConnection::open(const std::string& host, uint16_t port,
                                                       const std::string& password,
                                                       std::chrono::milliseconds timeout,
                                                       std::string& error) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
  const timeval tv{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
  redisContext* ctx = redisConnectWithTimeout(host.c_str(), port, tv);
  if (!ctx) {
    error = "cannot allocate a connection";
    return nullptr;
  }
  std::unique_ptr<RedisConnection> c(new RedisConnection(ctx));
  if (ctx->err) {
    error = std::string("connect: ") + ctx->errstr;
    return nullptr;
  }
  if (redisSetTimeout(ctx, tv) != REDIS_OK) {
    error = "cannot set the command timeout";
    return nullptr;
  }
  if (!password.empty() && !c->run({"AUTH", password}, error)) {
    error = "AUTH: " + error;
    return nullptr;
  }
  return c;
}

RedisConnection::~RedisConnection() {
  redisFree(ctx_);
}

RedisReply RedisConnection::run(std::initializer_list<std::string_view> args, std::string& error) {
  return run(std::vector<std::string_view>(args), error);
}

RedisReply RedisConnection::run(const std::vector<std::string_view>& args, std::string& error) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (auto a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  RedisReply reply(static_cast<redisReply*>(
      redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data())));
  if (!reply) {
    error = ctx_->errstr[0] ? ctx_->errstr : "no reply";
    return nullptr;
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    error = std::string(reply->str, reply->len);
    return nullptr;
  }
  return reply;
}

std::string makeRedisInstanceId() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  unsigned char r[4];
  RAND_bytes(r, sizeof r);
  char id[320];
  std::snprintf(id, sizeof id, "%s:%d:%02x%02x%02x%02x", host, static_cast<int>(getpid()), r[0],
                r[1], r[2], r[3]);
  return id;
}

}  // namespace tlsgate::tls
