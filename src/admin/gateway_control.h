// GatewayControl: what the admin endpoint (and the signal handler) may ask of the running
// gateway. The admin server depends only on this interface; app/ implements it.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

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

struct CertificateList {
  std::string multicertPath;
  std::vector<CertificateRow> rows;
  std::vector<ManagedCertificateRow> managed;
};

class GatewayControl {
 public:
  virtual ~GatewayControl() = default;
  // Re-reads every configuration file and swaps the snapshot; blocks until done.
  // Thread-safe; concurrent calls are serialised.
  virtual ReloadResult reload() = 0;
  virtual ReloadStatus reloadStatus() const = 0;
  // The certificates new connections are served from now.
  virtual CertificateList certificates() const = 0;
  // The counters of every worker (and background thread), summed.
  virtual stats::Totals counters() const = 0;
  // Reopens the access log file (logrotate; also SIGUSR2).
  virtual void reopenLogs() = 0;
};

}  // namespace tlsgate::admin
