// ManagedCertStore: the certificates a snapshot serves beside its ssl_multicert.config
// entries without a reload — those the ACME client obtained (acme/manager.h) — and the
// ACME challenges being validated: tls-alpn-01 certificates by name (RFC 8737), http-01 key
// authorizations by token (RFC 8555 section 8.3).
//
// One store per snapshot: its server contexts are built with the snapshot's ServerParams,
// whose pointers (key log, wire trace, ticket keys) the snapshot owns. The ACME thread
// writes (put, putChallenge, putToken...) and the workers read (find, challenge): a writer
// builds a new immutable map and swaps it in under a mutex, so a read is one lock and one
// hash lookup, and an entry handed out stays alive (shared_ptr) for the connection that
// holds it even when a renewal replaces it.
#pragma once

#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "tls/cert_store.h"
#include "tls/on_demand_gate.h"
#include "tls/server_params.h"

namespace tlsgate::tls {

// One certificate as the ACME client has it: PEM text, leaf first, then its chain.
struct ManagedCert {
  std::string id;                  // the state name (the first name)
  std::vector<std::string> names;  // what it is served for, lowercase; "*.x" allowed
  std::string chainPem;            // leaf, then intermediates
  std::string keyPem;
  std::time_t notAfter = 0;
  std::time_t nextRenewal = 0;  // when the manager will renew it
};

// What /certs and /metrics show of a managed certificate.
struct ManagedCertStatus {
  std::string id;
  std::vector<std::string> names;
  std::string source = "acme";
  std::time_t notAfter = 0;
  std::time_t nextRenewal = 0;
};

class ManagedCertStore {
 public:
  explicit ManagedCertStore(ServerParams params) : params_(std::move(params)) {}

  // Serves `cert` for its names from the next ClientHello on, replacing what had its id.
  // Errors: the PEM does not parse, or the key does not match.
  Status put(const ManagedCert& cert);
  void remove(const std::string& id);

  // tls-alpn-01: the challenge certificate for `name` (RFC 8737: self-signed, the name as
  // its only SAN, the critical acmeIdentifier extension).
  Status putChallenge(const std::string& name, const std::string& certPem,
                      const std::string& keyPem);
  void removeChallenge(const std::string& name);

  // http-01: token -> key authorization.
  void putToken(const std::string& token, const std::string& keyAuthorization);
  void removeToken(const std::string& token);

  // Workers. find: the certificate for `sni`, exact name then wildcard (one label).
  std::shared_ptr<const CertEntry> find(std::string_view sni) const;
  std::shared_ptr<const CertEntry> challenge(std::string_view sni) const;
  std::optional<std::string> keyAuthorization(std::string_view token) const;

  std::vector<ManagedCertStatus> list() const;
  bool empty() const;

  // acme.on_demand: set once by the ACME manager before the snapshot serves; null without.
  void setOnDemand(std::shared_ptr<OnDemandGate> gate) { onDemand_ = std::move(gate); }
  OnDemandGate* onDemand() const { return onDemand_.get(); }

 private:
  using EntryMap = std::unordered_map<std::string, std::shared_ptr<const CertEntry>>;
  struct Served {
    ManagedCertStatus status;
    std::shared_ptr<const CertEntry> entry;
  };
  struct View {
    std::unordered_map<std::string, Served> byId;
    EntryMap byName;  // exact names and "*.x" under "*.x"
    EntryMap challenges;
    std::unordered_map<std::string, std::string> tokens;
  };
  std::shared_ptr<const View> view() const;
  template <typename Change>
  void update(Change change);

  const ServerParams params_;
  mutable std::mutex mutex_;
  std::shared_ptr<const View> view_ = std::make_shared<View>();
  std::shared_ptr<OnDemandGate> onDemand_;
};

// The ALPN protocol of tls-alpn-01 (RFC 8737 section 6.2).
inline constexpr std::string_view kAcmeTlsAlpn = "acme-tls/1";

}  // namespace tlsgate::tls
