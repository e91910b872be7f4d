// Admission control (README "Admission control"): whether a connection may go on, decided
// before the costly part. Twice: when the source is known (at accept, or after the PROXY
// header), with nothing allocated for TLS yet, and at the ClientHello, before any key
// exchange or signature. The verdict is one input of the route (route_decision.h), which
// refuses; this file keeps the state the verdicts need: the connection's places in the
// shared SourceTable, the snapshot's rule buckets, the worker's LoadShedder.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "net/address.h"
#include "proxy/admission_rules.h"
#include "proxy/load_shedder.h"
#include "proxy/rule_buckets.h"
#include "proxy/source_table.h"
#include "stats/counters.h"
#include "tls/client_hello.h"

namespace tlsgate::proxy {

struct AdmissionVerdict {
  bool refused = false;
  bool alert = false;  // refuse with an access_denied alert (at the ClientHello only)
  std::optional<stats::Counter> counter;  // why; counted when decided
  std::string reason;
};

// What the source-time verdict reads.
struct SourceContext {
  const AdmissionSettings& settings;
  RuleBuckets& buckets;
  const net::Address& source;    // the client (after a PROXY header: the one it names)
  const net::Address& listener;  // the listener's address as configured
  uint32_t listenerMax = 0;      // listeners[].max_connections; 0 = none
  std::atomic<uint32_t>* listenerOpen = nullptr;  // its open connections (null: not counted)
  LoadShedder& shedder;
  std::chrono::steady_clock::time_point now;
};

// What the ClientHello-time verdict reads.
struct HelloContext {
  const AdmissionSettings& settings;
  RuleBuckets& buckets;
  const net::Address& source;
  const net::Address& listener;
  const tls::ClientHelloFacts& hello;
  bool resumption = false;  // the ClientHello offers a ticket sealed by one of our keys
  LoadShedder& shedder;
  std::chrono::steady_clock::time_point now;
};

// One connection's admission, and what it holds until it goes: a place in the global and
// per-source counts of connections and of handshakes in progress (from the source verdict
// to the end of the handshake), and in its listener's count.
class AdmissionLease {
 public:
  AdmissionLease() = default;
  ~AdmissionLease();
  AdmissionLease(const AdmissionLease&) = delete;
  AdmissionLease& operator=(const AdmissionLease&) = delete;

  AdmissionVerdict admitSource(const SourceContext& ctx);
  AdmissionVerdict admitClientHello(const HelloContext& ctx);
  // The handshake is over (done, failed, or a tunnel took the connection).
  void handshakeOver();

  // Counted among the handshakes in progress (from admitSource to handshakeOver).
  bool handshaking() const { return inHandshakes_; }

 private:
  AdmissionVerdict admitByRule(const SourceContext& ctx, const AdmissionMatch& match);
  AdmissionVerdict shedAtAccept(const SourceContext& ctx);
  AdmissionVerdict limitHandshake(const HelloContext& ctx, const AdmissionRule& rule);

  SourceTable::Key key_{};
  std::atomic<uint32_t>* listenerOpen_ = nullptr;
  // Counted in the totals; `tracked`: in the source's entry too (a per-source bound).
  bool inConnections_ = false;
  bool inHandshakes_ = false;
  bool connectionTracked_ = false;
  bool handshakeTracked_ = false;
  bool allowed_ = false;        // an allow rule matched: no limit, bound or shedding applies
  std::optional<size_t> rule_;  // decided at the source (limit rule), else at the ClientHello
  bool undecided_ = true;       // the rules wait for the ClientHello
};

}  // namespace tlsgate::proxy
