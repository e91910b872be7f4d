// libFuzzer target for tls::OcspStaple::fromDer: the bytes of an ssl_ocsp_name file, checked
// against an entry that serves one certificate. Whatever the bytes, loading returns (an
// error, or a staple with warnings) and a staple is about the entry's certificate only if
// it says so; one that is about none of them or has expired comes with a warning.
//
// The seeds (corpus/ocsp/, made by make_ocsp_seeds.py) are responses about this target's
// certificate: its issuer key is an Ed25519 key derived from a fixed seed, its issuer name
// and serial are fixed, so the certificate ID the responses carry matches and the fuzzer
// starts inside the matching code. Nothing is secret here: the key signs nothing real.
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <cstddef>
#include <cstdint>

#include <string>
#include <vector>

#include "fuzz_check.h"
#include "tls/ocsp_stapling.h"
#include "tls/ossl.h"

using tlsgate::tls::OcspStaple;
namespace ossl = tlsgate::ossl;

namespace {

// Shared with make_ocsp_seeds.py.
constexpr unsigned char kIssuerSeed[32] = "tlsgate ocsp fuzz issuer seed..";
constexpr const char* kIssuerName = "tlsgate fuzz OCSP issuer";
constexpr long kLeafSerial = 2;

ossl::UniquePtr<X509> makeCert(const char* subject, EVP_PKEY* key, EVP_PKEY* signer, long serial,
                               const X509_NAME* issuer) {
  ossl::UniquePtr<X509> cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(subject), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? issuer : name);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600L * 24 * 365);
  X509_set_pubkey(cert.get(), key);
  FUZZ_CHECK(X509_sign(cert.get(), signer, nullptr) > 0);
  return cert;
}

// An entry's context: a leaf (a fresh P-256 key) and, as its chain, the fixed issuer.
SSL_CTX* makeEntryContext() {
  ossl::UniquePtr<EVP_PKEY> issuerKey(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, kIssuerSeed, sizeof kIssuerSeed));
  FUZZ_CHECK(issuerKey != nullptr);
  auto issuer = makeCert(kIssuerName, issuerKey.get(), issuerKey.get(), 1, nullptr);
  ossl::UniquePtr<EVP_PKEY> leafKey(EVP_EC_gen("P-256"));
  auto leaf = makeCert("ocsp.fuzz.test", leafKey.get(), issuerKey.get(), kLeafSerial,
                       X509_get_subject_name(issuer.get()));
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  FUZZ_CHECK(SSL_CTX_use_certificate(ctx, leaf.get()) == 1);
  FUZZ_CHECK(SSL_CTX_use_PrivateKey(ctx, leafKey.get()) == 1);
  FUZZ_CHECK(SSL_CTX_add1_chain_cert(ctx, issuer.get()) == 1);
  return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t len) {
  static SSL_CTX* const ctx = makeEntryContext();  // lives as long as the process
  std::vector<std::string> warnings;
  auto staple = OcspStaple::fromDer(std::string(reinterpret_cast<const char*>(data), len),
                                    "resp.der", ctx, warnings);
  ERR_clear_error();
  if (!staple) {
    FUZZ_CHECK(staple.error().message.find("resp.der") != std::string::npos);
    return 0;
  }
  FUZZ_CHECK((*staple)->file() == "resp.der");
  X509* leaf = SSL_CTX_get0_certificate(ctx);
  if (!(*staple)->matches(leaf)) FUZZ_CHECK(!warnings.empty());
  const std::time_t next = (*staple)->nextUpdate();
  if (next != 0 && next < std::time(nullptr)) FUZZ_CHECK(!warnings.empty());
  return 0;
}
