// Resolver: host names resolved off the event loops.
//
// Destinations known at load time are resolved then; this is for the ones that are only
// known per connection (a tunnel_route with $1, a hook's or a plugin endpoint's
// destination). getaddrinfo() blocks, so it runs on one background thread; the callback
// runs there too and must hand the result back to its worker (Reactor::post).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>

#include "core/result.h"
#include "net/address.h"

namespace tlsgate::net {

class Resolver {
 public:
  using Callback = std::function<void(Result<Address>)>;

  // Process-wide; its thread starts with the first request and lives as long as the process.
  static Resolver& instance();

  // Resolves "host:port"; `done` is called once, on the resolver's thread.
  void resolve(std::string hostPort, Callback done);

 private:
  Resolver() = default;
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<std::string, Callback>> queue_;  // guarded by mutex_
  bool started_ = false;                                // guarded by mutex_
};

}  // namespace tlsgate::net
