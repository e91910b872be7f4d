// The admission section of tlsgate.yaml as plain data (README "Admission control"), and
// the rules' matching: a pure function of what is known about a connection. What the rules
// and limits decide, and the state they keep, is admission.h's.
//
// Rules are tried in order and the first that matches decides. A rule's criteria are known
// at different times: the source and the listener at accept, the name and the JA4 at the
// ClientHello. At accept, a rule that needs the ClientHello and whose other criteria match
// stops the walk: a later rule must not win over it, so the decision waits for the
// ClientHello. A rule without criteria matches every connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/token_bucket.h"
#include "net/address.h"
#include "net/cidr.h"

namespace tlsgate::proxy {

struct AdmissionRule {
  enum class Action : uint8_t { kAllow, kDeny, kLimit };
  enum class Per : uint8_t { kSource, kSni, kJa4 };  // what a limit's buckets count by

  int line = 0;                         // in tlsgate.yaml
  net::CidrSet sources;                 // empty: any source
  std::vector<net::Address> listeners;  // listen addresses as configured; empty: any
  std::vector<std::string> names;       // exact names, or "*.suffix"; empty: any
  std::vector<std::string> ja4s;        // empty: any
  Action action = Action::kAllow;
  bool denyWithAlert = false;  // deny: an access_denied alert at the ClientHello
  Per per = Per::kSource;
  RateLimit connections;  // new connections
  RateLimit handshakes;   // full handshakes (a resumption is not charged)

  bool needsClientHello() const {
    return !names.empty() || !ja4s.empty() || (action == Action::kDeny && denyWithAlert) ||
           (action == Action::kLimit && per != Per::kSource && connections.limited());
  }
};

// Load shedding by cost (README "Admission control", docs/decisions.md).
struct ShedSettings {
  bool enabled = false;                      // off unless asked: one load tester is a "flood" too
  std::chrono::milliseconds maxLoopLag{10};  // a worker whose event loop lags more sheds
  uint32_t maxHandshakes = 0;                // ...or with more handshakes in progress; 0 = lag only
};

struct AdmissionSettings {
  uint32_t sourcePrefixV4 = 32;  // how sources are grouped (per-source buckets, bounds, cost)
  uint32_t sourcePrefixV6 = 64;
  uint32_t maxConnections = 0;        // all listeners; 0 = no limit
  uint32_t maxHandshakes = 0;         // in progress, all workers; 0 = no limit
  uint32_t perSourceConnections = 0;  // 0 = no limit
  uint32_t perSourceHandshakes = 0;   // in progress; 0 = no limit
  ShedSettings shed;
  std::vector<AdmissionRule> rules;
};

// What matching found. `rule` null and `undecided` false: no rule matches.
struct AdmissionMatch {
  const AdmissionRule* rule = nullptr;
  size_t index = 0;        // of `rule` in the settings
  bool undecided = false;  // at accept: a rule that needs the ClientHello may match
};

// `sni` and `ja4` are null at accept.
AdmissionMatch matchRule(const AdmissionSettings& settings, const net::Address& source,
                         const net::Address& listener, const std::string* sni,
                         const std::string* ja4);

// An exact name or a "*.suffix" pattern (one label or more, as sni.yaml's wildcards), in
// lowercase; `name` is the ClientHello's (lowercased already).
bool nameMatches(std::string_view pattern, std::string_view name);

}  // namespace tlsgate::proxy
