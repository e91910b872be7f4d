// Metrics: everything /metrics and /stats show, read once into a MetricsSnapshot and then
// rendered as Prometheus text or JSON, so the two always agree.
//
// Prometheus names (README "Metrics"): counter `name` of stats/counters.h becomes
// tlsgate_<name>_total, except that a name ending in _us becomes tlsgate_<name without _us>
// _seconds_total (in seconds) and connections_active is the gauge tlsgate_connections_active.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "admin/gateway_control.h"
#include "stats/counters.h"
#include "stats/listener_stats.h"

namespace tlsgate::admin {

struct CertificateExpiry {
  std::string file;
  std::string subject;
  std::time_t notAfter = 0;
};

// The certificate store in use, summed up. A store of more than kPerCertificateLimit
// entries has no per-certificate expiry series (100,000 series per scrape would cost more
// than the rest of /metrics together): the soonest expiry and the counts say what to act
// on, /certs?name= or the pages of /certs which certificate it is.
struct CertificateSummary {
  static constexpr size_t kPerCertificateLimit = 1000;
  static constexpr std::time_t kExpiringSoon = 7 * 24 * 3600;
  CertificateStoreStatus store;
  std::optional<std::time_t> soonest;  // the earliest notAfter of the store's certificates
  size_t expiringSoon = 0;             // not expired, but within kExpiringSoon
  size_t expired = 0;                  // of the store (the ACME client's are counted apart)
  bool perCertificate = true;          // MetricsSnapshot::certificates lists every one
};

struct MetricsSnapshot {
  std::time_t now = 0;
  stats::Totals counters{};
  stats::SeriesTotals series;
  std::vector<std::string> cipherNames;  // by LabelIndex::ciphers(), [0] = "other"
  std::vector<std::string> groupNames;   // by LabelIndex::groups(), [0] = "other"
  std::vector<std::pair<std::string, stats::ListenerTotals>> listeners;
  ReloadStatus reload;
  CertificateSummary certificateSummary;
  std::vector<CertificateExpiry> certificates;  // one per (file, subject); see above
  std::vector<ManagedCertificateRow> managed;   // the ACME client's
};

MetricsSnapshot collectMetrics(const GatewayControl& control,
                               const stats::CounterRegistry& registry);
std::string toPrometheus(const MetricsSnapshot& m);
std::string toStatsJson(const MetricsSnapshot& m);

// The Prometheus name and scale of a counter of stats/counters.h.
struct CounterMetric {
  std::string name;
  const char* type;  // "counter" or "gauge"
  double scale;      // 1, or 1e-6 for microseconds
};
CounterMetric prometheusName(stats::Counter c);

}  // namespace tlsgate::admin
