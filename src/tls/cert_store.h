// CertStore: the server certificates of one snapshot, and certificate selection (S11).
//
// Built from ssl_multicert.config entries (S15). An entry holds one or more certificates
// (an RSA and an ECDSA one can share an entry: OpenSSL then picks the one the client's
// signature algorithms allow, ECDSA first). Lookups are hash maps, never scans: exact
// names, wildcard suffixes ("*.example.com" is stored under "example.com"), destination
// "ip:port", destination "ip". Immutable once built (S16).
//
// At scale (issue 19): no context per certificate. Every connection starts on one context
// with the snapshot's TLS settings (the default entry's certificates on it), and the
// certificates of the entry chosen are put on the connection itself (SSL_use_cert_and_key).
// A certificate is kept as DER (CertMaterial) and parsed by the handshakes that serve it
// (ParsedCertCache). A reload re-reads only the files that changed and shares the rest with
// the snapshot before it.
#pragma once

#include <array>
#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "net/address.h"
#include "tls/cert_material.h"
#include "tls/cert_spec.h"
#include "tls/ocsp_stapling.h"
#include "tls/ossl.h"
#include "tls/server_params.h"
#include "tls/session_tickets.h"

namespace tlsgate::tls {

// The certificates a connection was given, to tell which one it served (the record).
struct ServedCerts {
  static constexpr size_t kMax = 4;
  std::array<const X509*, kMax> leafs = {};
  std::array<const CertInfo*, kMax> infos = {};
  size_t count = 0;
  void add(const X509* leaf, const CertInfo* info) {
    if (count < kMax) {
      leafs[count] = leaf;
      infos[count++] = info;
    }
  }
  // nullptr: `served` is none of them (a hook's certificate).
  const CertInfo* infoOf(const X509* served) const {
    for (size_t i = 0; i < count; ++i)
      if (leafs[i] == served) return infos[i];
    return nullptr;
  }
};

struct CertEntry {
  int line = 0;  // in ssl_multicert.config
  std::vector<std::shared_ptr<const CertMaterial>> certs;
  // A small store gives each entry a context with its certificates (see
  // kContextPerEntryUpTo): switching to it is cheaper than putting them on the connection.
  ossl::UniquePtr<SSL_CTX> ctx;
  ServedCerts served;                // ctx's certificates
  bool tunnel = false;               // action=tunnel: the route decision sends it on (S5, S11)
  TicketSettings tickets;            // ssl_ticket_enabled / ssl_ticket_number (S11)
  std::unique_ptr<OcspStaple> ocsp;  // ssl_ocsp_name, when given
};

// One certificate entry outside ssl_multicert.config (line 0): the certificate (its chain
// after it) in `certFile`, the key in `keyFile` or, when that is empty, in `certFile`. Served
// with the defaults of an entry (no ticket or OCSP settings). For the on-demand directory.
Result<std::shared_ptr<const CertEntry>> loadStandaloneEntry(const std::string& certFile,
                                                             const std::string& keyFile,
                                                             const ServerParams& params);
// The same from PEM text (the ACME client's certificates); `what` names it in errors.
Result<std::shared_ptr<const CertEntry>> pemEntry(std::string_view certPem, std::string_view keyPem,
                                                  const std::string& what);

// Up to this many entries, each has a context of its own (as before issue 19): a switch
// to a context costs some 2,000 instructions, SSL_use_cert_and_key some 24,000 (OpenSSL 3.0
// looks the key's type up by name). 64 contexts are about 1.3 MB; a large store has none.
inline constexpr size_t kContextPerEntryUpTo = 64;

// What a build did, for the log, /health and /metrics.
struct CertStoreStats {
  size_t entries = 0;       // served
  size_t certificates = 0;  // distinct materials
  size_t skipped = 0;       // bad entries left out (partial reload)
  size_t filesRead = 0;     // files read (unchanged ones are not)
  size_t reused = 0;        // certificates taken from the previous store unparsed
  size_t parsed = 0;        // certificates parsed now
  size_t residentBytes = 0;
  std::chrono::milliseconds duration{0};
};

struct CertStoreOptions {
  // ATS multicert.partial_reload: a bad entry is reported and left out instead of failing
  // the whole store.
  bool partial = false;
  const class CertStore* previous = nullptr;  // its unchanged certificates are reused
};

class CertStore {
 public:
  // Loads every certificate and key; errors name the multicert file and the entry's line.
  // With options.partial, they are logged as warnings and the entry is skipped.
  static Result<std::unique_ptr<CertStore>> build(const std::vector<CertSpec>& entries,
                                                  const std::string& multicertPath,
                                                  const ServerParams& params,
                                                  const CertStoreOptions& options = {});
  ~CertStore();

  // S11: SNI exact, then wildcard (one label), then destination ip:port, then ip, then the
  // default entry. nullptr: nothing matches and there is no default certificate.
  const CertEntry* select(std::string_view sni, const net::Address& local) const;

  const CertEntry* findByName(std::string_view sni) const;
  const CertEntry* findExact(std::string_view sni) const;     // `sni` lowercase; no wildcard
  const CertEntry* findWildcard(std::string_view sni) const;  // `sni` lowercase
  const CertEntry* findByAddress(const net::Address& local) const;
  const CertEntry* defaultEntry() const { return default_; }

  // S6: the context every connection starts on: with the default entry's certificates when
  // there is one (a connection that ends up on the default needs nothing more), else
  // without. Either way the certificate callback then selects (S11) and serve()s.
  SSL_CTX* trampoline() const { return trampoline_.get(); }

  // Puts `entry`'s certificates on `ssl` (S11), replacing those it has, and lists them in
  // `served`. `fresh`: `ssl` still has the certificates of the context it is on (the
  // handshake's first choice; a hook's later one is not fresh). False when one of them
  // cannot be parsed (logged). `misses` counts ParsedCertCache misses, `hits` hits.
  bool serve(SSL* ssl, const CertEntry& entry, ServedCerts& served, int& hits, int& misses,
             bool fresh = true) const;

  const std::vector<std::unique_ptr<CertEntry>>& entries() const { return entries_; }
  const CertStoreStats& stats() const { return stats_; }

 private:
  struct Builder;
  CertStore() = default;

  ossl::UniquePtr<SSL_CTX> trampoline_;
  std::vector<std::unique_ptr<CertEntry>> entries_;
  std::unordered_map<std::string, const CertEntry*> exact_;
  std::unordered_map<std::string, const CertEntry*> wildcard_;  // key: suffix after "*."
  std::unordered_map<std::string, const CertEntry*> byIpPort_;  // key: ip bytes + port
  std::unordered_map<std::string, const CertEntry*> byIp_;      // key: ip bytes
  const CertEntry* default_ = nullptr;
  // Every certificate as read, by CertSource::poolKey(): what the next reload compares.
  std::unordered_map<std::string, std::shared_ptr<const LoadedMaterial>> pool_;
  std::unique_ptr<ChainPool> chains_;
  CertStoreStats stats_;
};

}  // namespace tlsgate::tls
