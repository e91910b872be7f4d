#include "admin/metrics.h"

#include <memory>
#include <set>
#include <string_view>

#include "admin/prometheus.h"
#include "core/json.h"
#include "stats/series.h"

namespace tlsgate::admin {

namespace {

using stats::Counter;

std::string_view trimSuffix(std::string_view s, std::string_view suffix) {
  return s.ends_with(suffix) ? s.substr(0, s.size() - suffix.size()) : s;
}

double seconds(uint64_t us) {
  return static_cast<double>(us) / 1e6;
}

void appendKey(std::string& out, bool& first, std::string_view key) {
  if (!first) out += ", ";
  first = false;
  json::appendString(out, key);
  out += ": ";
}

// The store's numbers and expiry summary; its certificates one by one only when it is small.
void collectCertificates(MetricsSnapshot& m, const GatewayControl& control) {
  CertificateSummary& c = m.certificateSummary;
  c.store = control.certificateStore();
  std::shared_ptr<const ExpiryIndex> expiry = control.certificateExpiry();
  c.soonest = expiry->soonest();
  c.expired = expiry->countBefore(m.now);
  c.expiringSoon = expiry->countBefore(m.now + CertificateSummary::kExpiringSoon) - c.expired;
  c.perCertificate = c.store.entries <= CertificateSummary::kPerCertificateLimit;
  if (!c.perCertificate) return;
  CertificatePage page = control.certificatePage(0, CertificateSummary::kPerCertificateLimit);
  // A reload between the two calls may have made the store large.
  c.perCertificate = page.total <= CertificateSummary::kPerCertificateLimit;
  if (!c.perCertificate) return;
  std::set<std::pair<std::string, std::string>> seen;
  for (const CertificateRow& cert : page.rows)
    if (seen.emplace(cert.file, cert.subject).second)
      m.certificates.push_back({cert.file, cert.subject, cert.notAfter});
}

}  // namespace

CounterMetric prometheusName(Counter c) {
  std::string_view name = stats::counterName(c);
  // Gauges: what is true now, summed over the workers.
  if (c == Counter::kConnectionsActive || c == Counter::kHandshakesInProgress ||
      c == Counter::kSheddingWorkers || c == Counter::kSslCertDirectoryEntries)
    return {"tlsgate_" + std::string(name), "gauge", 1.0};
  if (name.ends_with("_us"))
    return {"tlsgate_" + std::string(trimSuffix(name, "_us")) + "_seconds_total", "counter", 1e-6};
  return {"tlsgate_" + std::string(name) + "_total", "counter", 1.0};
}

MetricsSnapshot collectMetrics(const GatewayControl& control,
                               const stats::CounterRegistry& registry) {
  MetricsSnapshot m;
  m.now = std::time(nullptr);
  m.counters = control.counters();
  m.series = registry.sumSeries();
  auto& ciphers = stats::LabelIndex::ciphers();
  for (size_t i = 0; i < ciphers.count(); ++i) m.cipherNames.emplace_back(ciphers.name(i));
  auto& groups = stats::LabelIndex::groups();
  for (size_t i = 0; i < groups.count(); ++i) m.groupNames.emplace_back(groups.name(i));
  for (const stats::ListenerStats* l : stats::ListenerRegistry::instance().all())
    m.listeners.emplace_back(l->label(), l->sum());
  m.reload = control.reloadStatus();
  m.managed = control.managedCertificates();
  collectCertificates(m, control);
  return m;
}

namespace {

void promCounters(PrometheusText& p, const MetricsSnapshot& m) {
  for (size_t i = 0; i < stats::kCounterCount; ++i) {
    auto c = static_cast<Counter>(i);
    CounterMetric metric = prometheusName(c);
    p.family(metric.name, metric.type,
             std::string("tlsgate counter ") + stats::counterName(c) +
                 (metric.scale != 1.0 ? " (microseconds, shown in seconds)" : ""));
    if (metric.scale != 1.0)
      p.sample(metric.name, {}, static_cast<double>(m.counters[i]) * metric.scale);
    else
      p.sample(metric.name, {}, m.counters[i]);
  }
}

// The handshake histogram, and the handshakes by version, cipher and group.
void promHandshakes(PrometheusText& p, const MetricsSnapshot& m) {
  const auto& h = m.series.handshake;
  p.family("tlsgate_ssl_handshake_duration_seconds", "histogram",
           "Duration of successful inbound TLS handshakes");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < stats::kHandshakeBuckets; ++i) {
    cumulative += h.counts[i];
    std::string le = i < stats::kHandshakeBucketsUs.size()
                         ? PrometheusText::formatDouble(seconds(stats::kHandshakeBucketsUs[i]))
                         : "+Inf";
    p.sample("tlsgate_ssl_handshake_duration_seconds_bucket", {{"le", le}}, cumulative);
  }
  p.sample("tlsgate_ssl_handshake_duration_seconds_sum", {}, seconds(h.sumUs));
  p.sample("tlsgate_ssl_handshake_duration_seconds_count", {}, h.count());
  p.family("tlsgate_ssl_handshakes_by_version_total", "counter",
           "Successful inbound handshakes by TLS version");
  for (size_t i = 0; i < stats::kTlsVersions; ++i)
    p.sample("tlsgate_ssl_handshakes_by_version_total", {{"version", stats::tlsVersionName(i)}},
             m.series.versions[i]);
  p.family("tlsgate_ssl_handshakes_by_cipher_total", "counter",
           "Successful inbound handshakes by cipher (OpenSSL name)");
  for (size_t i = 0; i < m.cipherNames.size(); ++i)
    p.sample("tlsgate_ssl_handshakes_by_cipher_total", {{"cipher", m.cipherNames[i]}},
             m.series.ciphers[i]);
  p.family("tlsgate_ssl_handshakes_by_group_total", "counter",
           "Successful inbound handshakes by key exchange group (OpenSSL name, lowercase)");
  for (size_t i = 0; i < m.groupNames.size(); ++i)
    p.sample("tlsgate_ssl_handshakes_by_group_total", {{"group", m.groupNames[i]}},
             m.series.groups[i]);
}

void promListeners(PrometheusText& p, const MetricsSnapshot& m) {
  p.family("tlsgate_listener_connections_accepted_total", "counter",
           "Connections accepted, per listener");
  for (const auto& [label, t] : m.listeners)
    p.sample("tlsgate_listener_connections_accepted_total", {{"listener", label}}, t.accepted);
  p.family("tlsgate_listener_connections_active", "gauge", "Connections open now, per listener");
  for (const auto& [label, t] : m.listeners)
    p.sample("tlsgate_listener_connections_active", {{"listener", label}}, t.active());
  p.family("tlsgate_listener_connections_closed_total", "counter",
           "Connections closed, per listener and outcome (the data phase reached)");
  for (const auto& [label, t] : m.listeners)
    for (size_t o = 0; o < stats::kOutcomes; ++o)
      p.sample("tlsgate_listener_connections_closed_total",
               {{"listener", label}, {"outcome", stats::toString(static_cast<stats::Outcome>(o))}},
               t.closed[o]);
  p.family("tlsgate_listener_received_bytes_total", "counter",
           "Bytes received from clients by relays and tunnels, per listener, at close");
  for (const auto& [label, t] : m.listeners)
    p.sample("tlsgate_listener_received_bytes_total", {{"listener", label}}, t.bytesIn);
  p.family("tlsgate_listener_sent_bytes_total", "counter",
           "Bytes sent to clients by relays and tunnels, per listener, at close");
  for (const auto& [label, t] : m.listeners)
    p.sample("tlsgate_listener_sent_bytes_total", {{"listener", label}}, t.bytesOut);
}

// Reloads, the start time and the certificates' expiry.
void promLifecycle(PrometheusText& p, const MetricsSnapshot& m) {
  const ReloadStatus& r = m.reload;
  p.family("tlsgate_reloads_total", "counter", "Configuration reloads attempted");
  p.sample("tlsgate_reloads_total", {}, r.attempts);
  p.family("tlsgate_reload_failures_total", "counter", "Configuration reloads that failed");
  p.sample("tlsgate_reload_failures_total", {}, r.failures);
  p.family("tlsgate_last_reload_success", "gauge",
           "1 if the last reload succeeded (or none was tried), else 0");
  p.sample("tlsgate_last_reload_success", {}, uint64_t{r.lastOk ? 1u : 0u});
  p.family("tlsgate_last_reload_timestamp_seconds", "gauge",
           "When the last reload finished (Unix time; 0: never)");
  p.sample("tlsgate_last_reload_timestamp_seconds", {}, static_cast<uint64_t>(r.lastTime));
  p.family("tlsgate_last_reload_duration_seconds", "gauge", "How long the last reload took");
  p.sample("tlsgate_last_reload_duration_seconds", {},
           seconds(static_cast<uint64_t>(r.lastTook.count())));
  p.family("tlsgate_start_time_seconds", "gauge", "When the process started (Unix time)");
  p.sample("tlsgate_start_time_seconds", {}, static_cast<uint64_t>(r.startTime));
  p.family("tlsgate_certificate_expiry_seconds", "gauge",
           "Seconds until the certificate's notAfter (negative: expired); only for stores of "
           "at most 1000 entries");
  for (const auto& c : m.certificates)
    p.sample("tlsgate_certificate_expiry_seconds", {{"file", c.file}, {"subject", c.subject}},
             static_cast<double>(c.notAfter - m.now));
  uint64_t expired = m.certificateSummary.expired;
  p.family("tlsgate_acme_certificate_expiry_seconds", "gauge",
           "Seconds until the ACME certificate's notAfter (negative: expired)");
  for (const auto& c : m.managed) {
    p.sample("tlsgate_acme_certificate_expiry_seconds", {{"certificate", c.id}},
             static_cast<double>(c.notAfter - m.now));
    expired += c.notAfter < m.now ? 1 : 0;
  }
  p.family("tlsgate_acme_certificate_next_renewal_seconds", "gauge",
           "When the ACME client renews the certificate (Unix time)");
  for (const auto& c : m.managed)
    p.sample("tlsgate_acme_certificate_next_renewal_seconds", {{"certificate", c.id}},
             static_cast<uint64_t>(c.nextRenewal));
  // D5: one number to alert on.
  p.family("tlsgate_certificates_expired", "gauge",
           "Certificates served although past their notAfter");
  p.sample("tlsgate_certificates_expired", {}, expired);
}

void gauge(PrometheusText& p, std::string_view name, std::string_view help, size_t value) {
  p.family(name, "gauge", help);
  p.sample(name, {}, static_cast<uint64_t>(value));
}

// The certificate store in use and the parsed certificate cache (issue 19).
void promCertificateStore(PrometheusText& p, const MetricsSnapshot& m) {
  const CertificateSummary& c = m.certificateSummary;
  gauge(p, "tlsgate_certificates_entries", "ssl_multicert.config entries served", c.store.entries);
  gauge(p, "tlsgate_certificates_loaded", "Distinct certificates in the store",
        c.store.certificates);
  gauge(p, "tlsgate_certificates_skipped",
        "Entries left out of the store in use (ssl.multicert_partial_reload)", c.store.skipped);
  gauge(p, "tlsgate_certificates_resident_bytes", "Bytes the store's certificates hold",
        c.store.residentBytes);
  gauge(p, "tlsgate_certificate_cache_entries", "Parsed certificates cached for handshakes",
        c.store.cacheEntries);
  gauge(p, "tlsgate_certificate_cache_capacity", "Parsed certificates the cache keeps at most",
        c.store.cacheCapacity);
  gauge(p, "tlsgate_certificates_expiring_soon",
        "Certificates of the store not expired but expiring within 7 days", c.expiringSoon);
  p.family("tlsgate_certificates_load_seconds", "gauge",
           "How long the build of the store in use took (at start or at its reload)");
  p.sample("tlsgate_certificates_load_seconds", {},
           static_cast<double>(c.store.loadDuration.count()) / 1e3);
  p.family("tlsgate_certificates_expiring_soonest_seconds", "gauge",
           "Seconds until the earliest notAfter of the store (negative: expired)");
  if (c.soonest)
    p.sample("tlsgate_certificates_expiring_soonest_seconds", {},
             static_cast<double>(*c.soonest - m.now));
}

// {"name": count, ...} of a labelled series.
void jsonLabelled(std::string& out, const char* key, const std::vector<std::string>& names,
                  const uint64_t* counts) {
  out += ", \"";
  out += key;
  out += "\": {";
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    appendKey(out, first, names[i]);
    out += std::to_string(counts[i]);
  }
  out += "}";
}

void jsonHandshakes(std::string& out, const MetricsSnapshot& m) {
  const auto& h = m.series.handshake;
  out += ", \"handshake_duration_seconds\": {\"buckets\": [";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < stats::kHandshakeBuckets; ++i) {
    cumulative += h.counts[i];
    if (i) out += ", ";
    out += "{\"le\": ";
    if (i < stats::kHandshakeBucketsUs.size())
      out += PrometheusText::formatDouble(seconds(stats::kHandshakeBucketsUs[i]));
    else
      out += "\"+Inf\"";
    out += ", \"count\": " + std::to_string(cumulative) + "}";
  }
  out += "], \"sum\": " + PrometheusText::formatDouble(seconds(h.sumUs)) +
         ", \"count\": " + std::to_string(h.count()) + "}";
  std::vector<std::string> versions;
  for (size_t i = 0; i < stats::kTlsVersions; ++i) versions.emplace_back(stats::tlsVersionName(i));
  jsonLabelled(out, "tls_versions", versions, m.series.versions.data());
  jsonLabelled(out, "ciphers", m.cipherNames, m.series.ciphers.data());
  jsonLabelled(out, "groups", m.groupNames, m.series.groups.data());
}

void jsonListeners(std::string& out, const MetricsSnapshot& m) {
  out += ", \"listeners\": [";
  bool first = true;
  for (const auto& [label, t] : m.listeners) {
    if (!first) out += ", ";
    first = false;
    out += "{\"listener\": ";
    json::appendString(out, label);
    out += ", \"accepted\": " + std::to_string(t.accepted) +
           ", \"active\": " + std::to_string(t.active()) + ", \"closed\": {";
    bool firstOutcome = true;
    for (size_t o = 0; o < stats::kOutcomes; ++o) {
      appendKey(out, firstOutcome, stats::toString(static_cast<stats::Outcome>(o)));
      out += std::to_string(t.closed[o]);
    }
    out += "}, \"bytes_in\": " + std::to_string(t.bytesIn) +
           ", \"bytes_out\": " + std::to_string(t.bytesOut) + "}";
  }
  out += "]";
}

// The numbers of promCertificateStore; "certificates" (jsonLifecycle) is empty when
// "per_certificate" is false.
void jsonCertificateStore(std::string& out, const MetricsSnapshot& m) {
  const CertificateSummary& c = m.certificateSummary;
  out += ", \"certificate_store\": {\"entries\": " + std::to_string(c.store.entries) +
         ", \"loaded\": " + std::to_string(c.store.certificates) +
         ", \"skipped\": " + std::to_string(c.store.skipped) +
         ", \"resident_bytes\": " + std::to_string(c.store.residentBytes) + ", \"load_seconds\": " +
         PrometheusText::formatDouble(static_cast<double>(c.store.loadDuration.count()) / 1e3) +
         ", \"cache_entries\": " + std::to_string(c.store.cacheEntries) +
         ", \"cache_capacity\": " + std::to_string(c.store.cacheCapacity) +
         ", \"expiring_soonest_seconds\": " +
         (c.soonest ? std::to_string(static_cast<long long>(*c.soonest - m.now)) : "null") +
         ", \"expiring_soon\": " + std::to_string(c.expiringSoon) +
         ", \"expired\": " + std::to_string(c.expired) +
         ", \"per_certificate\": " + (c.perCertificate ? "true" : "false") + "}";
}

void jsonLifecycle(std::string& out, const MetricsSnapshot& m) {
  const ReloadStatus& r = m.reload;
  out += ", \"reload\": {\"attempts\": " + std::to_string(r.attempts) +
         ", \"failures\": " + std::to_string(r.failures) +
         ", \"last_ok\": " + (r.lastOk ? "true" : "false") + ", \"last_error\": ";
  json::appendStringOrNull(out, r.lastError);
  out += ", \"last_time\": " + std::to_string(r.lastTime) +
         ", \"last_took_ms\": " + PrometheusText::formatDouble(r.lastTook.count() / 1000.0) +
         "}, \"start_time\": " + std::to_string(r.startTime) + ", \"certificates\": [";
  bool first = true;
  for (const auto& c : m.certificates) {
    if (!first) out += ", ";
    first = false;
    out += "{\"file\": ";
    json::appendString(out, c.file);
    out += ", \"subject\": ";
    json::appendString(out, c.subject);
    out +=
        ", \"expiry_seconds\": " + std::to_string(static_cast<long long>(c.notAfter - m.now)) + "}";
  }
  out += "]";
}

}  // namespace

std::string toPrometheus(const MetricsSnapshot& m) {
  PrometheusText p;
  promCounters(p, m);
  promHandshakes(p, m);
  promListeners(p, m);
  promLifecycle(p, m);
  promCertificateStore(p, m);
  return p.text();
}

std::string toStatsJson(const MetricsSnapshot& m) {
  std::string out = "{\"counters\": ";
  out += stats::CounterRegistry::toJson(m.counters);
  jsonHandshakes(out, m);
  jsonListeners(out, m);
  jsonLifecycle(out, m);
  jsonCertificateStore(out, m);
  out += "}\n";
  return out;
}

}  // namespace tlsgate::admin
