// CertDirectory: ssl.cert_directory, certificates loaded on demand from a folder of files
// named after the names they serve (tls/cert_directory_files.h has the layout; README
// "Certificates on demand from a directory").
//
// For a ClientHello whose name nothing in memory has, the route asks lookup(): a certificate
// loaded before (kept parsed in an LRU of cache_size), a name known to have none (kept for
// negative_ttl, in an LRU of the same size), or neither. Then the handshake waits — the
// worker does not: the directory is an OnDemandGate, as acme.on_demand's queue is — while
// the directory's own loader thread ("cert-dir") reads and parses the files and calls back.
// A worker never touches the file system or parses a certificate here: lookup() is one lock
// and a hash lookup. One load per name: later handshakes for a name being loaded wait on
// the same load. At most kMaxQueued names wait for the loader; the handshakes of any further
// name get the fallback at once.
//
// Built with the snapshot (without a thread: --check starts none), started by the gateway
// when it activates the snapshot, and carried over by a reload that keeps its settings and
// the snapshot's TLS settings (its contexts are built with them), so that the cache
// survives; reloaded() then forgets the unknown names and has the loader drop cached
// certificates whose files changed. The loader thread is not waited for by the destructor
// (a worker may drop the last snapshot): it finishes the load in hand, frees the cache and
// ends on its own.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "stats/counters.h"
#include "tls/cert_store.h"
#include "tls/on_demand_gate.h"
#include "tls/server_params.h"

namespace tlsgate::tls {

struct CertDirectorySettings {
  std::string path;
  size_t cacheSize = 100000;             // parsed certificates kept (and unknown names)
  std::chrono::seconds negativeTtl{60};  // a name without a file is unknown this long; 0 = not kept
  std::chrono::seconds timeout{5};       // a handshake waits this long for its load
  bool operator==(const CertDirectorySettings&) const = default;
};

class CertDirectory final : public OnDemandGate {
 public:
  enum class Found : uint8_t {
    kEntry,      // loaded: `entry`
    kUnknown,    // no certificate: not a host name, or remembered as unknown
    kNotLoaded,  // not known yet: request() it
    kQueueFull,  // not known, and kMaxQueued names wait for the loader already
  };
  struct Lookup {
    Found found = Found::kUnknown;
    std::shared_ptr<const CertEntry> entry;
  };

  // Names waiting for the loader at once.
  static constexpr size_t kMaxQueued = 1024;

  // `params`: the snapshot's, with which every certificate is served; what they point to
  // must live as long as this directory (sameSetup checks that a reload keeps them).
  CertDirectory(CertDirectorySettings settings, ServerParams params);
  ~CertDirectory() override;
  CertDirectory(const CertDirectory&) = delete;
  CertDirectory& operator=(const CertDirectory&) = delete;

  // Starts the loader thread (once; later calls do nothing). It counts loads, failures,
  // evictions and the entries gauge into `counters`, which it alone writes.
  void start(stats::CounterBlock& counters);
  // A reload kept this directory: unknown names are looked up again, and the loader drops
  // (in the background) cached certificates whose files changed or went away.
  void reloaded();
  // Whether a new snapshot with these settings may keep this directory.
  bool sameSetup(const CertDirectorySettings& settings, const ServerParams& params) const;

  // Workers: what the directory knows of `name` (lowercase), counting as a use of it.
  Lookup lookup(const std::string& name);
  // Certificates held now.
  size_t cached() const;

  // OnDemandGate. refused: the name is unknown. request: `done` is called once, from the
  // loader thread, when the load is over (whatever came of it), at once when the queue is
  // full, and never once the directory is gone.
  bool refused(std::string_view name) const override;
  void request(const std::string& name, std::function<void()> done) override;
  std::chrono::seconds timeout() const override { return settings_.timeout; }
  // An unknown name gets the certificate it would have had without the directory.
  bool alertOnRefusal() const override { return false; }

  const CertDirectorySettings& settings() const { return settings_; }

 private:
  struct State;
  static void run(std::shared_ptr<State> state, uint64_t id);

  const CertDirectorySettings settings_;
  std::shared_ptr<State> state_;  // shared with the loader thread, which may outlive us
};

}  // namespace tlsgate::tls
