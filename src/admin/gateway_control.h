// GatewayControl: what the admin endpoint (and the signal handler) may ask of the running
// gateway. The admin server depends only on this interface; app/ implements it.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "admin/expiry_index.h"
#include "stats/counters.h"

namespace tlsgate::admin {

// The result of one reload (S16).
struct ReloadResult {
  bool ok = false;
  std::string error;  // "file:line: problem" when !ok
  std::chrono::microseconds took{0};
};

// Reload history, for /metrics and /health.
struct ReloadStatus {
  uint64_t attempts = 0;
  uint64_t failures = 0;
  bool lastOk = true;        // true before the first reload
  std::string lastError;     // of the last reload ("" if it worked or none was tried)
  std::time_t lastTime = 0;  // when the last reload finished (0: never)
  std::chrono::microseconds lastTook{0};
  std::time_t startTime = 0;  // when the process started
};

// One certificate the gateway serves, for /certs and the expiry metrics.
struct CertificateRow {
  std::string file;
  int line = 0;  // of its entry in ssl_multicert.config
  std::string subject;
  std::vector<std::string> names;
  std::string keyType;
  std::time_t notAfter = 0;
  std::string sha256;
  bool isDefault = false;  // its entry is the default one (dest_ip=*)
};

// A certificate the ACME client manages (README "Automatic certificates (ACME)").
struct ManagedCertificateRow {
  std::string id;
  std::string source;  // "acme"
  std::vector<std::string> names;
  std::time_t notAfter = 0;
  std::time_t nextRenewal = 0;
};

// Some entries of the certificate store in use, in ssl_multicert.config order.
struct CertificatePage {
  std::string multicertPath;
  size_t total = 0;  // entries in the store
  // The certificates of the entries asked for (an entry with an RSA and an ECDSA
  // certificate gives two rows).
  std::vector<CertificateRow> rows;
};

// How the store in use answered a name (S11's first two steps; no address, no default).
enum class NameMatch { kNone, kExact, kWildcard };

struct NamedCertificates {
  std::string multicertPath;
  size_t total = 0;  // entries in the store
  NameMatch match = NameMatch::kNone;
  std::vector<CertificateRow> rows;  // of the entry that serves the name (none: kNone)
};

// The certificate store in use and the process's parsed certificate cache, in numbers
// (README "Metrics", /health). Cheap: no entry is visited.
struct CertificateStoreStatus {
  size_t entries = 0;       // served
  size_t certificates = 0;  // distinct certificates loaded
  size_t skipped = 0;       // entries left out (ssl.multicert_partial_reload)
  size_t residentBytes = 0;
  std::chrono::milliseconds loadDuration{0};  // of this store's build (start or reload)
  size_t cacheEntries = 0;                    // ParsedCertCache
  size_t cacheCapacity = 0;
};

class GatewayControl {
 public:
  virtual ~GatewayControl() = default;
  // Re-reads every configuration file and swaps the snapshot; blocks until done.
  // Thread-safe; concurrent calls are serialised.
  virtual ReloadResult reload() = 0;
  virtual ReloadStatus reloadStatus() const = 0;
  // The certificates new connections are served from now: entries [offset, offset + limit)
  // of the store (cost O(limit)); the entry that serves `name` (one or two hash lookups);
  // the store in numbers; the notAfter of each distinct certificate, sorted (made once per
  // snapshot, then shared); the ACME client's.
  virtual CertificatePage certificatePage(size_t offset, size_t limit) const = 0;
  virtual NamedCertificates certificatesNamed(std::string_view name) const = 0;
  virtual CertificateStoreStatus certificateStore() const = 0;
  virtual std::shared_ptr<const ExpiryIndex> certificateExpiry() const = 0;
  virtual std::vector<ManagedCertificateRow> managedCertificates() const = 0;
  // The counters of every worker (and background thread), summed.
  virtual stats::Totals counters() const = 0;
  // Reopens the access log file (logrotate; also SIGUSR2).
  virtual void reopenLogs() = 0;
};

}  // namespace tlsgate::admin
