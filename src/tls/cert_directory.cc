#include "tls/cert_directory.h"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/log.h"
#include "core/signal_free_thread.h"
#include "core/thread_name.h"
#include "tls/cert_directory_files.h"
#include "tls/lru_map.h"

namespace tlsgate::tls {

using stats::Counter;
using Clock = std::chrono::steady_clock;

namespace {

// A certificate in the cache, with the files it came from (a reload compares them).
struct Cached {
  std::shared_ptr<const CertEntry> entry;
  DirectoryFiles files;
};

// Cached names a reload has the loader look at again per turn, between loads.
constexpr size_t kRecheckSlice = 256;

// The loader threads still running. A directory does not wait for its loader, but the
// process must not tear OpenSSL and the counters down under one: this registry, made when
// the first loader starts (after OpenSSL's and the counters' own statics, so destroyed
// before them), stops the loaders still running at exit and waits a few seconds at most
// for those finishing a load.
class RunningLoaders {
 public:
  static RunningLoaders& instance() {
    static RunningLoaders loaders;
    return loaders;
  }
  uint64_t started(std::function<void()> stop) {
    std::lock_guard lock(mutex_);
    stops_.emplace(++lastId_, std::move(stop));
    return lastId_;
  }
  void ended(uint64_t id) {
    std::lock_guard lock(mutex_);
    stops_.erase(id);
    ended_.notify_all();
  }
  ~RunningLoaders() {
    std::unique_lock lock(mutex_);
    for (auto& [id, stop] : stops_) stop();
    ended_.wait_for(lock, std::chrono::seconds(5), [this] { return stops_.empty(); });
  }

 private:
  std::mutex mutex_;
  std::condition_variable ended_;
  std::map<uint64_t, std::function<void()>> stops_;
  uint64_t lastId_ = 0;
};

}  // namespace

struct CertDirectory::State {
  State(CertDirectorySettings s, ServerParams p)
      : settings(std::move(s)),
        params(std::move(p)),
        cache(settings.cacheSize),
        unknown(settings.cacheSize) {}

  const CertDirectorySettings settings;
  const ServerParams params;
  stats::CounterBlock* counters = nullptr;  // the loader's; set by start()

  mutable std::mutex mutex;
  std::condition_variable wake;
  bool started = false;
  bool stopping = false;
  std::deque<std::string> queue;
  std::unordered_map<std::string, std::vector<std::function<void()>>> waiting;
  LruMap<Cached> cache;
  LruMap<Clock::time_point> unknown;  // until when
  // Bumped by reloaded(): a load that began before it does not remember its name as unknown
  // (the file may have come with the reload).
  uint64_t generation = 0;
  std::vector<std::string> recheck;  // cached names a reload asked to look at again

  void loadNext(std::unique_lock<std::mutex>& lock);
  void recheckSome(std::unique_lock<std::mutex>& lock);
  // Under the lock: the load's result into the caches; what left the cache is returned.
  std::vector<Cached> remember(const std::string& name, DirectoryLoad& load, uint64_t began);
  void dropAll(std::unique_lock<std::mutex>& lock);
  void stop();
};

CertDirectory::CertDirectory(CertDirectorySettings settings, ServerParams params)
    : settings_(settings),
      state_(std::make_shared<State>(std::move(settings), std::move(params))) {}

CertDirectory::~CertDirectory() {
  state_->stop();
}

void CertDirectory::State::stop() {
  {
    std::lock_guard lock(mutex);
    stopping = true;
    waiting.clear();  // nobody is answered any more
  }
  wake.notify_all();
}

void CertDirectory::start(stats::CounterBlock& counters) {
  {
    std::lock_guard lock(state_->mutex);
    if (state_->started) return;
    state_->started = true;
    state_->counters = &counters;
  }
  std::weak_ptr<State> weak = state_;
  const uint64_t id = RunningLoaders::instance().started([weak] {
    if (auto state = weak.lock()) state->stop();
  });
  startSignalFreeThread([state = state_, id]() mutable { run(std::move(state), id); }).detach();
}

void CertDirectory::reloaded() {
  {
    std::lock_guard lock(state_->mutex);
    ++state_->generation;
    state_->unknown.release();
    state_->recheck = state_->cache.keys();
  }
  state_->wake.notify_all();
}

bool CertDirectory::sameSetup(const CertDirectorySettings& settings,
                              const ServerParams& params) const {
  // What the handshake reads from the snapshot's parameters, never from the certificate's
  // context, may differ (the wire trace filter is even a new object with every snapshot).
  ServerParams mine = state_->params;
  ServerParams theirs = params;
  mine.wireTrace = theirs.wireTrace = nullptr;
  mine.alpnWire = theirs.alpnWire = "";
  mine.handshakeTimeout = theirs.handshakeTimeout;
  return settings == settings_ && mine == theirs;
}

CertDirectory::Lookup CertDirectory::lookup(const std::string& name) {
  if (!isDirectoryName(name)) return {};  // never near the file system
  std::lock_guard lock(state_->mutex);
  if (const Cached* cached = state_->cache.find(name)) return {Found::kEntry, cached->entry};
  if (const Clock::time_point* until = state_->unknown.peek(name)) {
    if (*until > Clock::now()) return {};
    state_->unknown.erase(name);
  }
  if (state_->waiting.contains(name) || state_->queue.size() < kMaxQueued)
    return {Found::kNotLoaded, nullptr};
  return {Found::kQueueFull, nullptr};
}

size_t CertDirectory::cached() const {
  std::lock_guard lock(state_->mutex);
  return state_->cache.size();
}

bool CertDirectory::refused(std::string_view name) const {
  if (!isDirectoryName(name)) return true;
  std::lock_guard lock(state_->mutex);
  const Clock::time_point* until = state_->unknown.peek(std::string(name));
  return until && *until > Clock::now();
}

void CertDirectory::request(const std::string& name, std::function<void()> done) {
  {
    std::lock_guard lock(state_->mutex);
    if (auto it = state_->waiting.find(name); it != state_->waiting.end()) {
      it->second.push_back(std::move(done));  // the load under way answers this one too
      return;
    }
    // Loaded since lookup(), or no room: answered at once.
    const bool answered = state_->cache.peek(name) || state_->queue.size() >= kMaxQueued;
    if (!answered && !state_->stopping) {
      state_->waiting[name].push_back(std::move(done));
      state_->queue.push_back(name);
      done = nullptr;
    }
  }
  if (done)
    done();
  else
    state_->wake.notify_one();
}

void CertDirectory::run(std::shared_ptr<State> state, uint64_t id) {
  nameThisThread("cert-dir");
  {
    std::unique_lock lock(state->mutex);
    for (;;) {
      state->wake.wait(lock, [&] {
        return state->stopping || !state->queue.empty() || !state->recheck.empty();
      });
      if (state->stopping) break;
      if (!state->queue.empty())
        state->loadNext(lock);
      else
        state->recheckSome(lock);
    }
    state->dropAll(lock);
  }
  state.reset();  // the directory is gone: the last owner may be us
  RunningLoaders::instance().ended(id);
}

void CertDirectory::State::loadNext(std::unique_lock<std::mutex>& lock) {
  const std::string name = std::move(queue.front());
  queue.pop_front();
  const uint64_t began = generation;
  lock.unlock();
  DirectoryLoad load = loadName(settings.path, name, params);
  lock.lock();
  std::vector<Cached> evicted = remember(name, load, began);
  std::vector<std::function<void()>> answers;
  if (auto it = waiting.find(name); it != waiting.end()) {
    answers = std::move(it->second);
    waiting.erase(it);
  }
  lock.unlock();
  // The loader alone writes its counters: no lock needed for them.
  switch (load.kind) {
    case DirectoryLoad::Kind::kLoaded:
      counters->add(Counter::kSslCertDirectoryLoads);
      break;
    case DirectoryLoad::Kind::kNoFile:
      counters->add(Counter::kSslCertDirectoryNotFound);
      break;
    case DirectoryLoad::Kind::kFailed:
      counters->add(Counter::kSslCertDirectoryLoadErrors);
      // Once per name per negative_ttl: the name is unknown until then.
      log::warning("ssl.cert_directory: '%s': %s; the name is served as unknown for %llds",
                   name.c_str(), load.problem.c_str(),
                   static_cast<long long>(settings.negativeTtl.count()));
      break;
  }
  counters->add(Counter::kSslCertDirectoryEvictions, evicted.size());
  evicted.clear();  // freed off the lock
  for (auto& answer : answers) answer();
  lock.lock();
}

std::vector<Cached> CertDirectory::State::remember(const std::string& name, DirectoryLoad& load,
                                                   uint64_t began) {
  std::vector<Cached> evicted;
  if (load.kind == DirectoryLoad::Kind::kLoaded) {
    unknown.erase(name);
    const size_t before = cache.size();
    if (auto out = cache.put(name, Cached{std::move(load.entry), std::move(load.files)}))
      evicted.push_back(std::move(out->second));
    if (cache.size() > before) counters->add(Counter::kSslCertDirectoryEntries);
    return evicted;
  }
  if (settings.negativeTtl.count() > 0 && began == generation) {
    unknown.put(name, Clock::now() + settings.negativeTtl);
  }
  return evicted;
}

// After a reload: a slice of the cached names whose files are looked at again; a name whose
// files changed (or went, or a file of its own came beside a wildcard) leaves the cache and
// is loaded again by its next handshake.
void CertDirectory::State::recheckSome(std::unique_lock<std::mutex>& lock) {
  std::vector<std::pair<std::string, DirectoryFiles>> slice;
  while (!recheck.empty() && slice.size() < kRecheckSlice) {
    std::string name = std::move(recheck.back());
    recheck.pop_back();
    if (const Cached* c = cache.peek(name)) slice.emplace_back(std::move(name), c->files);
  }
  lock.unlock();
  std::vector<std::pair<std::string, DirectoryFiles>> changed;
  for (auto& [name, files] : slice) {
    std::string problem;
    auto now = findFiles(settings.path, name, problem);
    if (!now || !(*now == files)) changed.emplace_back(std::move(name), std::move(files));
  }
  lock.lock();
  std::vector<Cached> dropped;
  for (const auto& [name, files] : changed) {
    const Cached* c = cache.peek(name);
    if (c && c->files == files)
      dropped.push_back(std::move(*cache.erase(name)));  // not reloaded since
  }
  lock.unlock();
  counters->sub(Counter::kSslCertDirectoryEntries, dropped.size());
  counters->add(Counter::kSslCertDirectoryStale, dropped.size());
  dropped.clear();
  lock.lock();
}

// Stopping: the certificates are freed here, off the workers.
void CertDirectory::State::dropAll(std::unique_lock<std::mutex>& lock) {
  auto held = cache.release();
  unknown.release();
  lock.unlock();
  counters->sub(Counter::kSslCertDirectoryEntries, held.size());
  held.clear();
  lock.lock();
}

}  // namespace tlsgate::tls
