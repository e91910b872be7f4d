// Per-thread counters (S20), summed on demand.
//
// Each worker owns one CounterBlock and is its only writer, so an increment is a relaxed
// load and store on a cache line nobody else writes: no lock, no contended atomic. A reader
// on another thread sums the blocks with relaxed loads; totals are exact once traffic stops
// and never torn.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "stats/series.h"

namespace tlsgate::stats {

// The names follow ATS's proxy.process.ssl.* records where one exists.
#define TLSGATE_COUNTERS(X)                                                   \
  X(kSslTotalHandshakeTimeUs, "ssl_total_handshake_time_us")                  \
  X(kSslSuccessHandshakeIn, "ssl_total_success_handshake_count_in")           \
  X(kSslHandshakeAttemptsIn, "ssl_handshake_attempts_in")                     \
  X(kSslErrorWantRead, "ssl_error_want_read")                                 \
  X(kSslErrorWantWrite, "ssl_error_want_write")                               \
  X(kSslErrorWantX509Lookup, "ssl_error_want_x509_lookup")                    \
  X(kSslErrorSyscall, "ssl_error_syscall")                                    \
  X(kSslErrorSsl, "ssl_error_ssl")                                            \
  X(kSslErrorZeroReturn, "ssl_error_zero_return")                             \
  X(kSslHandshakeTimeout, "ssl_handshake_timeout")                            \
  X(kSslHandshakeEof, "ssl_handshake_eof")                                    \
  X(kSslNoCertificate, "ssl_no_certificate")                                  \
  X(kSslRenegotiationRefused, "ssl_renegotiation_refused")                    \
  X(kSslSessionCreateFailure, "ssl_session_create_failure")                   \
  X(kSslSniNameSetFailure, "ssl_sni_name_set_failure")                        \
  X(kSslSuccessHandshakeOut, "ssl_total_success_handshake_count_out")         \
  X(kSslOriginVerifyFailure, "ssl_origin_verify_failure")                     \
  X(kSslOriginVerifyExpired, "ssl_origin_verify_expired")                     \
  X(kSslOriginVerifyUnknownCa, "ssl_origin_verify_unknown_ca")                \
  X(kSslOriginVerifyNameMismatch, "ssl_origin_verify_name_mismatch")          \
  X(kSslOriginVerifyOther, "ssl_origin_verify_other")                         \
  X(kSslOriginHandshakeTimeout, "ssl_origin_handshake_timeout")               \
  X(kOriginSessionCacheHits, "origin_session_cache_hits")                     \
  X(kOriginSessionCacheMisses, "origin_session_cache_misses")                 \
  X(kSslHookError, "ssl_hook_error")                                          \
  X(kSslClientCertificateFailure, "ssl_client_certificate_failure")           \
  X(kHookTunnels, "hook_tunnels")                                             \
  X(kHookTerminations, "hook_terminations")                                   \
  X(kConnectionsAccepted, "connections_accepted")                             \
  X(kConnectionsActive, "connections_active")                                 \
  X(kAcceptErrors, "accept_errors")                                           \
  X(kUpstreamConnectFailure, "upstream_connect_failure")                      \
  X(kRelayBytesClientToUpstream, "relay_bytes_client_to_upstream")            \
  X(kRelayBytesUpstreamToClient, "relay_bytes_upstream_to_client")            \
  X(kTunnelBytesClientToDestination, "tunnel_bytes_client_to_destination")    \
  X(kTunnelBytesDestinationToClient, "tunnel_bytes_destination_to_client")    \
  X(kInspectRequests, "inspect_requests")                                     \
  X(kSniIpAllowDenied, "sni_ip_allow_denied")                                 \
  X(kSniTunnels, "sni_tunnels")                                               \
  X(kDestIpTunnels, "dest_ip_tunnels")                                        \
  X(kPassthroughTunnels, "passthrough_tunnels")                               \
  X(kTunnelInactivityTimeouts, "tunnel_inactivity_timeouts")                  \
  X(kRelayInactivityTimeouts, "relay_inactivity_timeouts")                    \
  X(kInspectRequestTimeouts, "inspect_request_timeouts")                      \
  X(kUpstreamConnectTimeouts, "upstream_connect_timeouts")                    \
  X(kProxyProtocolAccepted, "proxy_protocol_accepted")                        \
  X(kProxyProtocolRefused, "proxy_protocol_refused")                          \
  X(kProxyProtocolInvalid, "proxy_protocol_invalid")                          \
  X(kNoEndpoint, "no_endpoint")                                               \
  X(kResolveFailure, "resolve_failure")                                       \
  X(kOriginHandshakeFailure, "origin_handshake_failure")                      \
  X(kSslSniMiss, "ssl_sni_miss")                                              \
  X(kSslHelloRetryRequest, "ssl_hello_retry_requests")                        \
  X(kAccessLogDropped, "access_log_dropped")                                  \
  X(kDrainClosed, "drain_closed")                                             \
  X(kSslTicketCreated, "ssl_ticket_created")                                  \
  X(kSslTicketVerified, "ssl_ticket_verified")                                \
  X(kSslTicketVerifiedOldKey, "ssl_ticket_verified_old_key")                  \
  X(kSslTicketNotFound, "ssl_ticket_not_found")                               \
  X(kSslSessionCacheHits, "ssl_session_cache_hits")                           \
  X(kSslSessionCacheMisses, "ssl_session_cache_misses")                       \
  X(kSslOcspStapled, "ssl_ocsp_stapled")                                      \
  X(kSslCertCacheHits, "ssl_cert_cache_hits")                                 \
  X(kSslCertCacheMisses, "ssl_cert_cache_misses")                             \
  X(kSslCertFilesRead, "ssl_cert_files_read")                                 \
  X(kSslOcspNotStapledExpired, "ssl_ocsp_not_stapled_expired")                \
  X(kSslOcspNotStapledMismatch, "ssl_ocsp_not_stapled_mismatch")              \
  X(kSslTicketKeyRedisFailures, "ssl_ticket_key_redis_failures")              \
  X(kSslTicketKeyRedisRefreshes, "ssl_ticket_key_redis_refreshes")            \
  X(kAdmissionDenied, "admission_denied")                                     \
  X(kAdmissionConnectionLimited, "admission_connection_limited")              \
  X(kAdmissionHandshakeLimited, "admission_handshake_limited")                \
  X(kAdmissionMaxConnections, "admission_max_connections")                    \
  X(kAdmissionMaxHandshakes, "admission_max_handshakes")                      \
  X(kAdmissionSourceConnections, "admission_source_connections")              \
  X(kAdmissionSourceHandshakes, "admission_source_handshakes")                \
  X(kShedFullHandshakes, "shed_full_handshakes")                              \
  X(kShedConnections, "shed_connections")                                     \
  X(kResumptionsAdmittedWhileShedding, "resumptions_admitted_while_shedding") \
  X(kHandshakesInProgress, "handshakes_in_progress")                          \
  X(kSheddingWorkers, "shedding_workers")                                     \
  X(kAcmeOrders, "acme_orders")                                               \
  X(kAcmeOrdersFailed, "acme_orders_failed")                                  \
  X(kAcmeRenewals, "acme_renewals")                                           \
  X(kAcmeFailures, "acme_failures")                                           \
  X(kAcmeTlsAlpnValidations, "acme_tls_alpn_validations")                     \
  X(kAcmeHttpValidations, "acme_http_validations")                            \
  X(kAcmeOnDemandRequests, "acme_on_demand_requests")                         \
  X(kAcmeOnDemandRefused, "acme_on_demand_refused")                           \
  X(kAcmeOnDemandTimeouts, "acme_on_demand_timeouts")                         \
  X(kSslCertDirectoryHits, "ssl_cert_directory_hits")                         \
  X(kSslCertDirectoryMisses, "ssl_cert_directory_misses")                     \
  X(kSslCertDirectoryUnknown, "ssl_cert_directory_unknown")                   \
  X(kSslCertDirectoryTimeouts, "ssl_cert_directory_timeouts")                 \
  X(kSslCertDirectoryQueueFull, "ssl_cert_directory_queue_full")              \
  X(kSslCertDirectoryLoads, "ssl_cert_directory_loads")                       \
  X(kSslCertDirectoryNotFound, "ssl_cert_directory_not_found")                \
  X(kSslCertDirectoryLoadErrors, "ssl_cert_directory_load_errors")            \
  X(kSslCertDirectoryEvictions, "ssl_cert_directory_evictions")               \
  X(kSslCertDirectoryStale, "ssl_cert_directory_stale")                       \
  X(kSslCertDirectoryEntries, "ssl_cert_directory_entries")

enum class Counter : uint16_t {
#define X(id, name) id,
  TLSGATE_COUNTERS(X)
#undef X
      kCount
};

constexpr size_t kCounterCount = static_cast<size_t>(Counter::kCount);

const char* counterName(Counter c);

class alignas(64) CounterBlock {
 public:
  void add(Counter c, uint64_t n = 1) {
    auto& slot = slots_[static_cast<size_t>(c)];
    slot.store(slot.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(Counter c, uint64_t n = 1) { add(c, ~n + 1); }
  uint64_t get(Counter c) const {
    return slots_[static_cast<size_t>(c)].load(std::memory_order_relaxed);
  }

  // The histogram, TLS version and cipher counts of this worker (same single writer).
  WorkerSeries series;

 private:
  std::array<std::atomic<uint64_t>, kCounterCount> slots_{};
};

using Totals = std::array<uint64_t, kCounterCount>;

// Owns the blocks of every worker.
class CounterRegistry {
 public:
  CounterBlock& newBlock();
  Totals sum() const;
  SeriesTotals sumSeries() const;
  // {"name": value, ...} on one line.
  static std::string toJson(const Totals& totals);

 private:
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<CounterBlock>> blocks_;
};

// The blocks of background threads that are not workers (the ticket key Redis sync): one
// registry for the process, so that code building a snapshot can hand a thread a block.
// Whoever reports totals adds backgroundCounters().sum() to the workers'.
CounterRegistry& backgroundCounters();

}  // namespace tlsgate::stats
