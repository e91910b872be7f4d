#include "acme/certificate_request.h"

#include <openssl/pem.h>
#include <openssl/rand.h>

#include <cstdint>

#include "acme/jws.h"
#include "tls/ossl.h"

namespace tlsgate::acme {

namespace {

constexpr long kChallengeBackdate = 60 * 60;  // clocks of validators may lag
constexpr long kChallengeLifetime = 7 * 24 * 60 * 60;
constexpr size_t kMaxCommonName = 64;  // ub-common-name (RFC 5280)

Error opensslError(const std::string& what) {
  std::string why = ossl::drainErrors();
  return Error{"", 0, why.empty() ? what : what + ": " + why};
}

std::string memString(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

Result<std::string> keyToPem(EVP_PKEY* key) {
  ossl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || !PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr))
    return opensslError("cannot write the private key");
  return memString(bio.get());
}

Result<ossl::UniquePtr<EVP_PKEY>> keyFromPem(const std::string& pem) {
  ossl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  ossl::UniquePtr<EVP_PKEY> key;
  if (bio) key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return opensslError("no PEM private key for the certificate request");
  return key;
}

// subjectAltName with `names` as dNSNames.
ossl::UniquePtr<GENERAL_NAMES> dnsNames(const std::vector<std::string>& names) {
  ossl::UniquePtr<GENERAL_NAMES> all(GENERAL_NAMES_new());
  if (!all) return nullptr;
  for (const std::string& name : names) {
    ossl::UniquePtr<GENERAL_NAME> one(GENERAL_NAME_new());
    ASN1_IA5STRING* text = ASN1_IA5STRING_new();
    if (!one || !text || !ASN1_STRING_set(text, name.data(), static_cast<int>(name.size()))) {
      ASN1_IA5STRING_free(text);
      return nullptr;
    }
    GENERAL_NAME_set0_value(one.get(), GEN_DNS, text);
    if (!sk_GENERAL_NAME_push(all.get(), one.get())) return nullptr;
    one.release();  // the stack owns it now
  }
  return all;
}

bool setCommonName(X509_NAME* subject, const std::string& name) {
  if (name.size() > kMaxCommonName) return true;  // the SAN alone names it
  return X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                    reinterpret_cast<const unsigned char*>(name.data()),
                                    static_cast<int>(name.size()), -1, 0) == 1;
}

// The critical acmeIdentifier extension: its extnValue is the DER of an OCTET STRING that
// holds the SHA-256 digest (RFC 8737 section 3), so the value is wrapped twice.
ossl::UniquePtr<X509_EXTENSION> acmeIdentifier(const std::string& keyAuthorization) {
  std::string digest = sha256(keyAuthorization);
  std::string der = {0x04, static_cast<char>(digest.size())};
  der += digest;
  ossl::UniquePtr<ASN1_OBJECT> oid(OBJ_txt2obj(kAcmeIdentifierOid, 1));
  ossl::UniquePtr<ASN1_OCTET_STRING> value(ASN1_OCTET_STRING_new());
  if (!oid || !value ||
      !ASN1_OCTET_STRING_set(value.get(), reinterpret_cast<const unsigned char*>(der.data()),
                             static_cast<int>(der.size())))
    return nullptr;
  return ossl::UniquePtr<X509_EXTENSION>(
      X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 1, value.get()));
}

bool setRandomSerial(X509* cert) {
  uint64_t serial = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof serial) != 1) return false;
  serial >>= 1;  // positive, fits 63 bits
  return ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial | 1) == 1;
}

Result<std::string> certToPem(X509* cert) {
  ossl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || !PEM_write_bio_X509(bio.get(), cert))
    return opensslError("cannot write the certificate");
  return memString(bio.get());
}

std::time_t toTime(const ASN1_TIME* when) {
  struct tm parts = {};
  if (!when || ASN1_TIME_to_tm(when, &parts) != 1) return 0;
  return timegm(&parts);
}

std::vector<std::string> sanDnsNames(X509* cert) {
  std::vector<std::string> names;
  ossl::UniquePtr<GENERAL_NAMES> san(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; san && i < sk_GENERAL_NAME_num(san.get()); ++i) {
    const GENERAL_NAME* one = sk_GENERAL_NAME_value(san.get(), i);
    int type = 0;
    const auto* text = static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(one, &type));
    if (type != GEN_DNS) continue;
    names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                       static_cast<size_t>(ASN1_STRING_length(text)));
  }
  return names;
}

// RFC 9773 section 4.1. The serial's DER content octets carry a leading zero when the
// high bit of the magnitude is set (the INTEGER is positive); OpenSSL keeps the magnitude.
std::string ariCertId(X509* cert) {
  const ASN1_OCTET_STRING* keyId = X509_get0_authority_key_id(cert);
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  if (!keyId || !serial) return {};
  std::string magnitude(reinterpret_cast<const char*>(ASN1_STRING_get0_data(serial)),
                        static_cast<size_t>(ASN1_STRING_length(serial)));
  if (magnitude.empty() || (static_cast<unsigned char>(magnitude[0]) & 0x80))
    magnitude.insert(magnitude.begin(), '\0');
  std::string aki(reinterpret_cast<const char*>(ASN1_STRING_get0_data(keyId)),
                  static_cast<size_t>(ASN1_STRING_length(keyId)));
  return base64url(aki) + "." + base64url(magnitude);
}

}  // namespace

Result<std::string> newPrivateKeyPem(KeyType type) {
  ossl::UniquePtr<EVP_PKEY> key(type == KeyType::kRsa2048
                                    ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
                                    : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return opensslError("cannot generate the certificate's private key");
  return keyToPem(key.get());
}

Result<std::string> makeCsrDer(const std::vector<std::string>& names, const std::string& keyPem) {
  if (names.empty()) return Error{"", 0, "a certificate request needs at least one name"};
  Result<ossl::UniquePtr<EVP_PKEY>> key = keyFromPem(keyPem);
  if (!key) return key.error();
  ossl::UniquePtr<X509_REQ> req(X509_REQ_new());
  ossl::UniquePtr<GENERAL_NAMES> san = dnsNames(names);
  ossl::UniquePtr<STACK_OF(X509_EXTENSION)> extensions;
  STACK_OF(X509_EXTENSION)* raw = nullptr;
  bool built = req && san && X509_REQ_set_version(req.get(), 0) &&
               setCommonName(X509_REQ_get_subject_name(req.get()), names.front()) &&
               X509V3_add1_i2d(&raw, NID_subject_alt_name, san.get(), 0, X509V3_ADD_DEFAULT) == 1;
  extensions.reset(raw);
  if (!built || !X509_REQ_add_extensions(req.get(), extensions.get()) ||
      !X509_REQ_set_pubkey(req.get(), key->get()) ||
      X509_REQ_sign(req.get(), key->get(), EVP_sha256()) <= 0)
    return opensslError("cannot build the certificate request");
  unsigned char* der = nullptr;
  int size = i2d_X509_REQ(req.get(), &der);
  ossl::OpenSslArray<unsigned char> owned(der);
  if (size <= 0) return opensslError("cannot encode the certificate request");
  return std::string(reinterpret_cast<const char*>(der), static_cast<size_t>(size));
}

Result<PemPair> tlsAlpnChallengeCertificate(const std::string& name,
                                            const std::string& keyAuthorization) {
  ossl::UniquePtr<EVP_PKEY> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  ossl::UniquePtr<X509> cert(X509_new());
  ossl::UniquePtr<GENERAL_NAMES> san = dnsNames({name});
  ossl::UniquePtr<X509_EXTENSION> identifier = acmeIdentifier(keyAuthorization);
  if (!key || !cert || !san || !identifier)
    return opensslError("cannot build the tls-alpn-01 certificate for " + name);
  X509_NAME* subject = X509_get_subject_name(cert.get());
  bool built =
      X509_set_version(cert.get(), 2) && setRandomSerial(cert.get()) &&
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kChallengeBackdate) &&
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), kChallengeLifetime) &&
      setCommonName(subject, name) && X509_set_issuer_name(cert.get(), subject) &&
      X509_set_pubkey(cert.get(), key.get()) &&
      X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, san.get(), 0, X509V3_ADD_DEFAULT) == 1 &&
      X509_add_ext(cert.get(), identifier.get(), -1) &&
      X509_sign(cert.get(), key.get(), EVP_sha256()) > 0;
  if (!built) return opensslError("cannot build the tls-alpn-01 certificate for " + name);
  Result<std::string> certPem = certToPem(cert.get());
  if (!certPem) return certPem.error();
  Result<std::string> keyPem = keyToPem(key.get());
  if (!keyPem) return keyPem.error();
  return PemPair{std::move(*certPem), std::move(*keyPem)};
}

Result<CertFacts> certFacts(const std::string& chainPem) {
  ossl::UniquePtr<BIO> bio(BIO_new_mem_buf(chainPem.data(), static_cast<int>(chainPem.size())));
  ossl::UniquePtr<X509> leaf;
  if (bio) leaf.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!leaf) return opensslError("no PEM certificate in the chain");
  CertFacts facts;
  facts.notBefore = toTime(X509_get0_notBefore(leaf.get()));
  facts.notAfter = toTime(X509_get0_notAfter(leaf.get()));
  facts.names = sanDnsNames(leaf.get());
  facts.ariCertId = ariCertId(leaf.get());
  return facts;
}

}  // namespace tlsgate::acme
