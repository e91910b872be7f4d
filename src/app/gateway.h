// Gateway: the running tlsgate. Owns the workers and their threads, the listening sockets
// (through the workers), the current snapshot, the reload thread and the reload history.
//
// S16 reload: re-reads tlsgate.yaml and every file it names into a new snapshot off the hot
// path (the reload thread, or the admin thread's reload()), then posts it to every worker,
// which adopts it on its own thread: new connections use it, connections in flight keep the
// one they pinned at accept. The old snapshot (its SSL_CTXs) goes with its last connection.
// A failed reload changes nothing and says why (file:line: problem).
//
// Listeners are matched between the old and new tlsgate.yaml by (address as written,
// transparent): a kept listener keeps its sockets (no connection is refused during a
// reload, a port 0 keeps the port it got), an added one is bound (failure fails the
// reload), a removed one closes.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "admin/gateway_control.h"
#include "config/snapshot.h"
#include "core/result.h"
#include "net/address.h"
#include "proxy/origin_session_cache.h"
#include "proxy/worker.h"
#include "stats/counters.h"

namespace tlsgate::app {

class Gateway final : public admin::GatewayControl {
 public:
  // `pluginProtocols`: what the loaded plugins serve (buildSnapshot's), the same for every
  // reload since plugins load once.
  Gateway(std::shared_ptr<const config::Snapshot> snapshot,
          std::vector<std::string> pluginProtocols);
  ~Gateway() override;
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Opens the listening sockets (one per worker and listener, SO_REUSEPORT) and starts the
  // worker threads and the reload thread. An address that cannot be bound names
  // tlsgate.yaml:line.
  Status start();

  // SIGHUP: queues a reload on the reload thread and returns at once. Requests that arrive
  // while one is queued make one reload.
  void requestReload();

  // SIGTERM: no more reloads; every worker closes its listening sockets and ends when its
  // last connection has, or at drain_timeout. Returns at once; see running().
  void beginDrain();
  // A second SIGTERM, or SIGINT: close everything now.
  void stopNow();
  // False once every worker thread has returned.
  bool running() const { return runningWorkers_.load() > 0; }
  // Joins the threads; logs the outcome of a drain.
  void join();

  // What reopenLogs() calls (the access log's owner sets it); a no-op by default.
  void setReopenLogs(std::function<void()> hook);
  // For background threads that count too (counters() sums every block).
  stats::CounterRegistry& counterRegistry() { return counters_; }

  // admin::GatewayControl
  admin::ReloadResult reload() override;
  admin::ReloadStatus reloadStatus() const override;
  admin::CertificatePage certificatePage(size_t offset, size_t limit) const override;
  admin::NamedCertificates certificatesNamed(std::string_view name) const override;
  admin::CertificateStoreStatus certificateStore() const override;
  std::shared_ptr<const admin::ExpiryIndex> certificateExpiry() const override;
  std::vector<admin::ManagedCertificateRow> managedCertificates() const override;
  // The snapshot new connections use now.
  std::shared_ptr<const config::Snapshot> snapshot() const;
  stats::Totals counters() const override;
  void reopenLogs() override;

 private:
  // What the gateway knows of one open listener (the workers hold the sockets).
  struct OpenListener {
    net::Address configured;  // as written (port 0 stays 0)
    bool transparent = false;
    net::Address bound;
  };
  struct Swap;

  Status startThreads();
  Status reloadGuarded();
  Status reloadLocked();
  Result<Swap> planListeners(const config::GatewayConfig& next) const;
  void commit(std::shared_ptr<const config::Snapshot> next, Swap swap);
  void postAndWait(std::vector<std::function<void()>> perWorker);
  void reloadLoop();

  const std::vector<std::string> pluginProtocols_;
  const config::GatewayConfig started_;  // what restart-only keys are compared against
  const std::time_t startTime_;
  stats::CounterRegistry counters_;
  std::unique_ptr<proxy::OriginSessionCache> originSessions_;
  std::vector<std::unique_ptr<proxy::Worker>> workers_;
  std::vector<std::thread> threads_;
  std::atomic<int> runningWorkers_{0};
  std::unique_ptr<std::atomic<bool>[]> workerExited_;  // per worker: run() has returned
  std::atomic<bool> draining_{false};                  // no reload from now on
  std::atomic<bool> stoppedNow_{false};
  bool drainBegun_ = false;              // the signal thread's
  std::vector<OpenListener> listeners_;  // in the current config's order; under reloadMutex_

  mutable std::mutex snapshotMutex_;  // held only to copy or swap the pointer
  std::shared_ptr<const config::Snapshot> snapshot_;

  // One reload at a time; also guards listeners_.
  std::mutex reloadMutex_;
  mutable std::mutex statusMutex_;  // status_, read by the admin thread during a reload
  admin::ReloadStatus status_;
  uint64_t drainClosedBefore_ = 0;

  // The reload thread's queue: one pending flag, coalescing SIGHUPs.
  std::mutex queueMutex_;
  std::condition_variable queueCv_;
  bool reloadPending_ = false;
  bool quit_ = false;
  std::thread reloadThread_;

  std::mutex reopenMutex_;
  std::function<void()> reopenLogs_;

  // certificateExpiry()'s index and the snapshot it is of: made by the first request after
  // a reload (gateway_certificates.cc).
  mutable std::mutex expiryMutex_;
  mutable std::weak_ptr<const config::Snapshot> expiryOf_;
  mutable std::shared_ptr<const admin::ExpiryIndex> expiry_;
};

}  // namespace tlsgate::app
