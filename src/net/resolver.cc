#include "net/resolver.h"

#include <thread>

namespace tlsgate::net {

Resolver& Resolver::instance() {
  static Resolver* resolver = new Resolver;  // immortal: its thread may outlive main()
  return *resolver;
}

void Resolver::resolve(std::string hostPort, Callback done) {
  std::lock_guard lock(mutex_);
  queue_.emplace_back(std::move(hostPort), std::move(done));
  if (!started_) {
    started_ = true;
    std::thread([this] { run(); }).detach();
  }
  wake_.notify_one();
}

void Resolver::run() {
  for (;;) {
    std::pair<std::string, Callback> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return !queue_.empty(); });
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job.second(resolveHostPort(job.first));
  }
}

}  // namespace tlsgate::net
