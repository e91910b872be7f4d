// CertMaterial: one server certificate as the store keeps it (issue 19). Compact: the leaf
// and the key as DER bytes (about 0.5 KB for ECDSA), its chain shared with every other
// certificate that has the same chain, and the facts selection and /certs need. OpenSSL
// objects for it are made when a handshake serves it (ParsedCertCache), because a parsed
// certificate and key take about 6.6 KB and a context per certificate 13 KB more.
//
// Materials are immutable and shared: between the entries of a store and between the old
// and the new snapshot across a reload (MaterialPool re-reads only files that changed).
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "tls/ossl.h"

namespace tlsgate::tls {

struct CertInfo {
  std::string file;
  std::string subject;             // RFC 2253, e.g. "CN=a.test"
  std::string sha256;              // lowercase hex of the DER's SHA-256
  std::string keyType;             // "RSA-2048", "EC-prime256v1", ...
  std::vector<std::string> names;  // CN and DNS SANs, lowercase
  std::time_t notAfter = 0;
};

// The certificates sent after a leaf (from its file, then ssl_ca_name), parsed once.
struct CertChain {
  ossl::UniquePtr<STACK_OF(X509)> certs;
  size_t derBytes = 0;
};

enum class KeyFormat : uint8_t { kPkcs8, kEcSec1, kRsaPkcs1 };

struct CertMaterial : CertInfo {
  CertMaterial() = default;
  CertMaterial(const CertMaterial&) = delete;
  CertMaterial& operator=(const CertMaterial&) = delete;
  ~CertMaterial();  // wipes keyDer

  uint64_t id = 0;  // unique in the process: the key of ParsedCertCache
  std::string leafDer;
  std::string keyDer;
  KeyFormat keyFormat = KeyFormat::kPkcs8;
  std::shared_ptr<const CertChain> chain;  // never null; maybe empty

  // Heap bytes this material holds, its shared chain not included.
  size_t residentBytes() const;
};

// Chains by content: thousands of leafs with one intermediate share one parsed chain. Safe
// to use from several loading threads at once.
class ChainPool {
 public:
  // The chain of these DER certificates (in order), parsed on first sight.
  Result<std::shared_ptr<const CertChain>> intern(const std::vector<std::string>& ders);
  size_t size() const;
  size_t derBytes() const;  // of the chains alive

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::weak_ptr<const CertChain>> byDigest_;
};

// Where a certificate comes from: ssl_cert_name, ssl_key_name (empty: the key follows in
// the certificate's file), the ssl_ca_name files for it.
struct CertSource {
  std::string certFile;
  std::string keyFile;
  std::vector<std::string> chainFiles;
  std::string poolKey() const;  // the three, unambiguously
};

// A file as it was when read: a reload compares stat() first and the content's SHA-256
// only when stat() differs (a file rewritten with the same bytes is not parsed again).
struct FileStamp {
  std::string path;
  uint64_t dev = 0;
  uint64_t ino = 0;
  int64_t size = -1;
  int64_t mtimeNs = 0;
  std::string sha256;  // raw 32 bytes
};

struct LoadedMaterial {
  std::shared_ptr<const CertMaterial> material;
  std::vector<FileStamp> stamps;  // certFile, keyFile (if any), chainFiles
};

// Reads and checks one certificate: the first certificate of `certFile` is the leaf, the
// ones after it its chain; the key is the private key of `keyFile` or `certFile`. The
// error says which file and why (the caller adds the config's file:line). With `previous`
// (the same source as read before) and the same bytes in every file, its material again.
Result<LoadedMaterial> loadMaterial(const CertSource& source, ChainPool& chains,
                                    const LoadedMaterial* previous = nullptr);

// Whether every file of `loaded` still has the size, mtime, inode and device it had (no
// file is read). A file changed less than 2 s before it was read never counts as unchanged.
bool unchangedOnDisk(const LoadedMaterial& loaded);

// The same from PEM text in memory (leaf, then its chain; the key): `what` names it in errors.
Result<std::shared_ptr<const CertMaterial>> materialFromPem(std::string_view certPem,
                                                            std::string_view keyPem,
                                                            const std::string& what,
                                                            ChainPool& chains);

// The first unencrypted private key of a PEM text (PKCS#8, SEC1, PKCS#1); null if none.
ossl::UniquePtr<EVP_PKEY> privateKeyOfPem(std::string_view pem);

// stat() of `path` (sha256 empty); nothing when it cannot be read.
Result<FileStamp> statFile(const std::string& path);

// The OpenSSL objects a handshake serves. Safe on any thread.
struct LiveCert {
  ossl::UniquePtr<X509> leaf;
  ossl::UniquePtr<EVP_PKEY> key;
};
Result<LiveCert> parseMaterial(const CertMaterial& material);

}  // namespace tlsgate::tls
