#include "app/gateway.h"

#include <malloc.h>

#include <algorithm>
#include <system_error>
#include <utility>

#include "app/activation.h"
#include "app/restart_only.h"
#include "core/log.h"
#include "core/thread_name.h"
#include "net/socket.h"
#include "stats/listener_stats.h"

namespace tlsgate::app {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

// One socket per worker on a listener's address. A port of 0 is chosen by the kernel on
// the first socket; the others bind that same port.
struct BoundListener {
  std::vector<Fd> fds;  // one per worker
  net::Address bound;
};

// `exclusive`: the address must be free (no other process listens there, D6); false when
// this gateway's own sockets hold it (a reload that changes a listener's options).
Result<BoundListener> bindListener(const config::GatewayConfig& cfg,
                                   const config::ListenerConfig& l, size_t workers,
                                   bool exclusive = true) {
  BoundListener out;
  out.bound = l.address;
  if (exclusive)
    if (auto free = net::checkAddressFree(l.address, l.transparent); !free)
      return Error{cfg.path, l.line, free.error().message};
  for (size_t w = 0; w < workers; ++w) {
    auto fd = net::listenReusePort(out.bound, l.transparent);
    if (!fd) return Error{cfg.path, l.line, fd.error().message};
    if (out.bound.port() == 0) out.bound = net::localAddress(fd->get());
    out.fds.push_back(std::move(fd.value()));
  }
  stats::ListenerRegistry::instance().add(l.address.toString(), out.bound.toString());
  return out;
}

}  // namespace

// A reload's listeners, bound but not yet handed to the workers.
struct Gateway::Swap {
  std::vector<std::vector<proxy::Worker::ListenerPlan>> perWorker;
  std::vector<OpenListener> listeners;
  std::vector<std::string> opened;  // bound addresses, for the log
  std::vector<std::string> closed;
};

Gateway::Gateway(std::shared_ptr<const config::Snapshot> snapshot,
                 std::vector<std::string> pluginProtocols)
    : pluginProtocols_(std::move(pluginProtocols)),
      started_(snapshot->config),
      startTime_(std::time(nullptr)),
      originSessions_(
          std::make_unique<proxy::OriginSessionCache>(snapshot->config.ssl.client.sessionCache)),
      snapshot_(std::move(snapshot)) {
  status_.startTime = startTime_;
  workerExited_ = std::make_unique<std::atomic<bool>[]>(started_.threads);
  for (unsigned i = 0; i < started_.threads; ++i)
    workers_.push_back(std::make_unique<proxy::Worker>(
        static_cast<int>(i), counters_.newBlock(), config::runtimeOf(snapshot_), *originSessions_));
}

Gateway::~Gateway() {
  if (!threads_.empty() || reloadThread_.joinable()) {
    stopNow();
    join();
  }
}

Status Gateway::start() {
  const config::GatewayConfig& cfg = snapshot_->config;
  for (size_t i = 0; i < cfg.listeners.size(); ++i) {
    const auto& l = cfg.listeners[i];
    auto bound = bindListener(cfg, l, workers_.size());
    if (!bound) return bound.error();
    for (size_t w = 0; w < workers_.size(); ++w)
      workers_[w]->addListener(std::move(bound->fds[w]), bound->bound, i);
    listeners_.push_back({l.address, l.transparent, bound->bound});
    log::info("listening on %s", bound->bound.toString().c_str());
  }
  return startThreads();
}

// D10: a thread the system refuses (a process or memory limit) fails the start with a
// message; the destructor stops and joins the threads that did start.
Status Gateway::startThreads() {
  runningWorkers_ = static_cast<int>(workers_.size());
  try {
    for (size_t w = 0; w < workers_.size(); ++w)
      threads_.emplace_back([this, w] {
        nameThisThread("worker-" + std::to_string(w));
        workers_[w]->run();
        workerExited_[w] = true;
        --runningWorkers_;
      });
    reloadThread_ = std::thread([this] {
      nameThisThread("reload");
      reloadLoop();
    });
  } catch (const std::system_error& e) {
    runningWorkers_ -= static_cast<int>(workers_.size() - threads_.size());
    return Error{started_.path, 0,
                 "cannot start thread " + std::to_string(threads_.size() + 1) + " of " +
                     std::to_string(workers_.size()) + " (threads): " + e.what()};
  }
  return Ok{};
}

// --- reload (S16) ---

void Gateway::requestReload() {
  {
    std::lock_guard lock(queueMutex_);
    reloadPending_ = true;
  }
  queueCv_.notify_one();
}

// tuneAllocator keeps freed memory in the process (no automatic trim): right for the
// workers' churn, but a reload frees a whole snapshot (100,000 certificates: some 100 MB
// of small blocks) once the workers let go of it, a moment after. The reload thread hands
// those pages back half a second later, so that RSS stays flat across reloads (issue 19).
void Gateway::reloadLoop() {
  bool trimPending = false;
  for (;;) {
    {
      std::unique_lock lock(queueMutex_);
      auto wake = [this] { return reloadPending_ || quit_; };
      if (!trimPending) {
        queueCv_.wait(lock, wake);
      } else if (!queueCv_.wait_for(lock, std::chrono::milliseconds(500), wake)) {
        lock.unlock();
        malloc_trim(0);
        trimPending = false;
        continue;
      }
      if (quit_) return;
      reloadPending_ = false;
    }
    trimPending = reload().ok;
  }
}

admin::ReloadResult Gateway::reload() {
  std::lock_guard lock(reloadMutex_);
  auto begin = std::chrono::steady_clock::now();
  Status st = reloadGuarded();
  admin::ReloadResult result;
  result.ok = st.ok();
  result.took = duration_cast<microseconds>(std::chrono::steady_clock::now() - begin);
  if (!result.ok) result.error = st.error().toString();
  {
    // Recorded before the line is logged: whoever reads the line and then asks /health
    // sees this reload.
    std::lock_guard statusLock(statusMutex_);
    ++status_.attempts;
    if (!result.ok) ++status_.failures;
    status_.lastError = result.error;  // empty after a reload that worked
    status_.lastOk = result.ok;
    status_.lastTime = std::time(nullptr);
    status_.lastTook = result.took;
  }
  if (result.ok)
    log::info("reload ok (%lld ms)",
              static_cast<long long>(duration_cast<milliseconds>(result.took).count()));
  else
    log::warning("reload failed: %s", result.error.c_str());
  return result;
}

// A reload that runs out of memory (a huge config under a memory limit) fails like any
// other: no exception may end the reload thread or the process, and the old snapshot serves.
Status Gateway::reloadGuarded() {
  try {
    return reloadLocked();
  } catch (const std::bad_alloc&) {
    return Error{"", 0, "out of memory"};
  } catch (const std::exception& e) {
    return Error{"", 0, std::string("unexpected error: ") + e.what()};
  }
}

Status Gateway::reloadLocked() {
  if (draining_) return Error{"", 0, "shutting down"};
  std::shared_ptr<const config::Snapshot> current = snapshot();
  auto next = config::buildSnapshot(current->config.path, pluginProtocols_, current.get());
  if (!next) return next.error();
  if (auto st = activate(**next, current.get()); !st) return st;
  for (const std::string& key : restartOnlyChanges(started_, (*next)->config))
    log::warning("%s changed: takes effect at restart", key.c_str());
  auto swap = planListeners((*next)->config);
  if (!swap) return swap.error();
  commit(std::move(next.value()), std::move(swap.value()));
  return Ok{};
}

// Old and new listeners are paired by (address as written, transparent), in order; a new
// one without a partner is bound now, so that a failure leaves everything as it was.
Result<Gateway::Swap> Gateway::planListeners(const config::GatewayConfig& next) const {
  Swap swap;
  swap.perWorker.resize(workers_.size());
  std::vector<bool> taken(listeners_.size(), false);
  for (const config::ListenerConfig& l : next.listeners) {
    std::optional<size_t> kept;
    for (size_t j = 0; j < listeners_.size() && !kept; ++j)
      if (!taken[j] && listeners_[j].configured == l.address &&
          listeners_[j].transparent == l.transparent)
        kept = j;
    if (kept) {
      taken[*kept] = true;
      for (auto& plan : swap.perWorker) plan.push_back({Fd(), net::Address(), kept});
      swap.listeners.push_back(listeners_[*kept]);
      continue;
    }
    const bool ours =
        std::any_of(listeners_.begin(), listeners_.end(),
                    [&](const OpenListener& open) { return open.bound == l.address; });
    auto bound = bindListener(next, l, workers_.size(), /*exclusive=*/!ours);
    if (!bound) return bound.error();
    for (size_t w = 0; w < workers_.size(); ++w)
      swap.perWorker[w].push_back({std::move(bound->fds[w]), bound->bound, std::nullopt});
    swap.listeners.push_back({l.address, l.transparent, bound->bound});
    swap.opened.push_back(bound->bound.toString());
  }
  for (size_t j = 0; j < listeners_.size(); ++j)
    if (!taken[j]) swap.closed.push_back(listeners_[j].bound.toString());
  return swap;
}

void Gateway::commit(std::shared_ptr<const config::Snapshot> next, Swap swap) {
  for (const std::string& address : swap.opened) log::info("listening on %s", address.c_str());
  for (const std::string& address : swap.closed)
    log::info("no longer listening on %s", address.c_str());
  listeners_ = std::move(swap.listeners);
  {
    std::lock_guard lock(snapshotMutex_);
    snapshot_ = next;
  }
  // The lambdas given to post() must be copyable: the plans (which own fds) ride in a
  // shared_ptr.
  std::vector<std::function<void()>> tasks;
  for (size_t w = 0; w < workers_.size(); ++w) {
    auto plan =
        std::make_shared<std::vector<proxy::Worker::ListenerPlan>>(std::move(swap.perWorker[w]));
    tasks.push_back([worker = workers_[w].get(), runtime = config::runtimeOf(next), plan] {
      worker->adopt(runtime, std::move(*plan));
    });
  }
  postAndWait(std::move(tasks));
}

// Runs each task on its worker and waits until all have run: once reload() returns a
// removed listener refuses and an added one accepts; once beginDrain() returns no listener
// accepts. A worker that has stopped runs nothing more: its task is not waited for.
void Gateway::postAndWait(std::vector<std::function<void()>> perWorker) {
  struct Pending {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<bool> ran;
  };
  auto pending = std::make_shared<Pending>();
  pending->ran.assign(perWorker.size(), false);
  for (size_t w = 0; w < perWorker.size(); ++w)
    workers_[w]->reactor().post([pending, w, task = std::move(perWorker[w])] {
      task();
      std::lock_guard lock(pending->mutex);
      pending->ran[w] = true;
      pending->cv.notify_all();
    });
  std::unique_lock lock(pending->mutex);
  auto done = [&] {
    for (size_t w = 0; w < pending->ran.size(); ++w)
      if (!pending->ran[w] && !workerExited_[w]) return false;
    return true;
  };
  while (!done()) pending->cv.wait_for(lock, milliseconds(100));
}

admin::ReloadStatus Gateway::reloadStatus() const {
  std::lock_guard lock(statusMutex_);
  return status_;
}

std::shared_ptr<const config::Snapshot> Gateway::snapshot() const {
  std::lock_guard lock(snapshotMutex_);
  return snapshot_;
}

stats::Totals Gateway::counters() const {
  stats::Totals totals = counters_.sum();
  // Threads that are not workers (the Redis ticket key sync) count in their own registry.
  const stats::Totals background = stats::backgroundCounters().sum();
  for (size_t i = 0; i < totals.size(); ++i) totals[i] += background[i];
  return totals;
}

void Gateway::setReopenLogs(std::function<void()> hook) {
  std::lock_guard lock(reopenMutex_);
  reopenLogs_ = std::move(hook);
}

void Gateway::reopenLogs() {
  std::lock_guard lock(reopenMutex_);
  if (reopenLogs_) reopenLogs_();
}

// --- stopping ---

void Gateway::beginDrain() {
  if (draining_.exchange(true)) return;
  drainBegun_ = true;
  unsigned timeout = snapshot()->config.drainTimeoutSec;
  drainClosedBefore_ = counters_.sum()[static_cast<size_t>(stats::Counter::kDrainClosed)];
  std::vector<std::function<void()>> tasks;
  for (auto& w : workers_)
    tasks.push_back([worker = w.get(), timeout] { worker->drain(std::chrono::seconds(timeout)); });
  postAndWait(std::move(tasks));
  // Every listener is closed now: the count can only go down.
  log::info("SIGTERM: draining %llu connections (up to %us)",
            static_cast<unsigned long long>(
                counters_.sum()[static_cast<size_t>(stats::Counter::kConnectionsActive)]),
            timeout);
}

void Gateway::stopNow() {
  draining_ = true;  // no reload from now on
  stoppedNow_ = true;
  for (auto& w : workers_) w->stop();
}

void Gateway::join() {
  for (auto& t : threads_) t.join();
  threads_.clear();
  {
    std::lock_guard lock(queueMutex_);
    quit_ = true;
  }
  queueCv_.notify_one();
  if (reloadThread_.joinable()) reloadThread_.join();
  uint64_t closed =
      counters_.sum()[static_cast<size_t>(stats::Counter::kDrainClosed)] - drainClosedBefore_;
  if (!drainBegun_ || stoppedNow_) return;
  if (closed)
    log::info("drain timeout: closed %llu connections", static_cast<unsigned long long>(closed));
  else
    log::info("drained");
}

}  // namespace tlsgate::app
