// RedisServer: a real redis-server for tests, on a free loopback port, in its own temporary
// folder, with persistence off (--save '' --appendonly no). Stopped and restarted on the
// same port to test outages. The test is skipped... never: a missing redis-server fails.
#pragma once

#include <hiredis/hiredis.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tlsgate::testing {

class RedisServer {
 public:
  // `extraArgs`: e.g. {"--requirepass", "s3cret"}.
  explicit RedisServer(std::vector<std::string> extraArgs = {});
  ~RedisServer();

  void start();  // on port(); returns once it answers PING
  void stop();   // SIGTERM and wait
  uint16_t port() const { return port_; }

  // One command on a fresh connection (AUTH first when a password is given); nullptr when
  // the server does not answer.
  struct ReplyFree {
    void operator()(redisReply* r) const { freeReplyObject(r); }
  };
  using Reply = std::unique_ptr<redisReply, ReplyFree>;
  Reply command(const std::vector<std::string>& args, const std::string& password = "") const;

 private:
  std::vector<std::string> extraArgs_;
  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// Polls `done` every 10 ms for up to `limit` (generous: the Redis tests assert no speed);
// its last answer.
bool waitFor(const std::function<bool()>& done,
             std::chrono::milliseconds limit = std::chrono::seconds(20));

}  // namespace tlsgate::testing
