// CertStore: the server certificates of one snapshot, and certificate selection (S11).
//
// Built from ssl_multicert.config entries (S15). Each entry becomes one SSL_CTX holding all
// of its certificates (an RSA and an ECDSA one can share an entry: OpenSSL then picks the
// one the client's signature algorithms allow, ECDSA first). Lookups are hash maps, never
// scans: exact names, wildcard suffixes ("*.example.com" is stored under "example.com"),
// destination "ip:port", destination "ip". Immutable once built (S16).
#pragma once

#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "net/address.h"
#include "tls/cert_spec.h"
#include "tls/ocsp_stapling.h"
#include "tls/ossl.h"
#include "tls/server_params.h"

namespace tlsgate::tls {

struct CertInfo {
  std::string file;
  std::string subject;             // RFC 2253, e.g. "CN=a.test"
  std::string sha256;              // lowercase hex of the DER's SHA-256
  std::string keyType;             // "RSA-2048", "EC-prime256v1", ...
  std::vector<std::string> names;  // CN and DNS SANs, lowercase
  std::time_t notAfter = 0;
};

struct CertEntry {
  int line = 0;  // in ssl_multicert.config
  ossl::UniquePtr<SSL_CTX> ctx;
  std::vector<CertInfo> certs;
  bool tunnel = false;               // action=tunnel: the route decision sends it on (S5, S11)
  std::unique_ptr<OcspStaple> ocsp;  // ssl_ocsp_name, when given
};

// One certificate entry outside ssl_multicert.config (line 0): the certificate (its chain
// after it) in `certFile`, the key in `keyFile` or, when that is empty, in `certFile`. Served
// with the defaults of an entry (no ticket or OCSP settings). For the on-demand directory.
Result<std::shared_ptr<const CertEntry>> loadStandaloneEntry(const std::string& certFile,
                                                             const std::string& keyFile,
                                                             const ServerParams& params);

class CertStore {
 public:
  // Loads every certificate and key; errors name the multicert file and the entry's line.
  static Result<std::unique_ptr<CertStore>> build(const std::vector<CertSpec>& entries,
                                                  const std::string& multicertPath,
                                                  const ServerParams& params);

  // S11: SNI exact, then wildcard (one label), then destination ip:port, then ip, then the
  // default entry. nullptr: nothing matches and there is no default certificate.
  const CertEntry* select(std::string_view sni, const net::Address& local) const;

  const CertEntry* findByName(std::string_view sni) const;
  const CertEntry* findExact(std::string_view sni) const;     // `sni` lowercase; no wildcard
  const CertEntry* findWildcard(std::string_view sni) const;  // `sni` lowercase
  const CertEntry* findByAddress(const net::Address& local) const;
  const CertEntry* defaultEntry() const { return default_; }

  // S6: the context every connection starts on: the default entry's when there is one (as
  // in ATS, so a connection that ends up on the default needs no switch), else one without
  // a certificate. Either way the certificate callback then selects (S11).
  SSL_CTX* trampoline() const { return default_ ? default_->ctx.get() : certless_.get(); }

  // What we know about a certificate this store serves (nullptr if not ours).
  const CertInfo* info(const X509* cert) const;

  const std::vector<std::unique_ptr<CertEntry>>& entries() const { return entries_; }

 private:
  CertStore() = default;

  ossl::UniquePtr<SSL_CTX> certless_;
  std::vector<std::unique_ptr<CertEntry>> entries_;
  std::unordered_map<std::string, const CertEntry*> exact_;
  std::unordered_map<std::string, const CertEntry*> wildcard_;  // key: suffix after "*."
  std::unordered_map<std::string, const CertEntry*> byIpPort_;  // key: ip bytes + port
  std::unordered_map<std::string, const CertEntry*> byIp_;      // key: ip bytes
  const CertEntry* default_ = nullptr;
  std::unordered_map<const X509*, const CertInfo*> infoByCert_;
  std::vector<ossl::UniquePtr<X509>> leafs_;  // keeps infoByCert_ keys alive
};

}  // namespace tlsgate::tls
