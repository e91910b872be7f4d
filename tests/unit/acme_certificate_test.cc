// The X.509 side of the ACME client: the CSR's names, the tls-alpn-01 certificate (RFC 8737
// section 3) and the facts read from an issued certificate, ARI certID included (RFC 9773).
#include "acme/certificate_request.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <array>
#include <ctime>

#include "acme/jws.h"
#include "acme_test_util.h"

namespace tlsgate::acme {
namespace {

using testing::certOf;
using testing::keyOf;

std::vector<std::string> dnsNamesOf(const STACK_OF(GENERAL_NAME) * san) {
  std::vector<std::string> names;
  for (int i = 0; san && i < sk_GENERAL_NAME_num(san); ++i) {
    int type = 0;
    auto* value =
        static_cast<ASN1_STRING*>(GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(san, i), &type));
    EXPECT_EQ(type, GEN_DNS);
    names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                       ASN1_STRING_length(value));
  }
  return names;
}

std::string commonName(X509_NAME* name) {
  char cn[256] = {};
  int n = X509_NAME_get_text_by_NID(name, NID_commonName, cn, sizeof cn);
  return n < 0 ? "" : std::string(cn, n);
}

struct Csr {
  ossl::UniquePtr<X509_REQ> req;
  std::vector<std::string> sans;
};

Csr parseCsr(const std::string& der) {
  auto bytes = reinterpret_cast<const unsigned char*>(der.data());
  Csr csr;
  csr.req.reset(d2i_X509_REQ(nullptr, &bytes, static_cast<long>(der.size())));
  if (!csr.req) return csr;
  ossl::UniquePtr<STACK_OF(X509_EXTENSION)> extensions(X509_REQ_get_extensions(csr.req.get()));
  for (int i = 0; i < sk_X509_EXTENSION_num(extensions.get()); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(extensions.get(), i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
    ossl::UniquePtr<GENERAL_NAMES> san(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
    csr.sans = dnsNamesOf(san.get());
  }
  return csr;
}

TEST(AcmeCertificateRequest, CsrHasEveryNameAsSanAndTheFirstAsCnAndIsSignedByTheKey) {
  for (KeyType type : {KeyType::kEcdsaP256, KeyType::kRsa2048}) {
    Result<std::string> keyPem = newPrivateKeyPem(type);
    ASSERT_TRUE(keyPem) << keyPem.error().message;
    ossl::UniquePtr<EVP_PKEY> key = keyOf(*keyPem);
    ASSERT_TRUE(key);
    EXPECT_TRUE(EVP_PKEY_is_a(key.get(), type == KeyType::kRsa2048 ? "RSA" : "EC"));
    Result<std::string> der = makeCsrDer({"a.example", "b.example", "*.c.example"}, *keyPem);
    ASSERT_TRUE(der) << der.error().message;
    Csr csr = parseCsr(*der);
    ASSERT_TRUE(csr.req);
    EXPECT_EQ(csr.sans, (std::vector<std::string>{"a.example", "b.example", "*.c.example"}));
    EXPECT_EQ(commonName(X509_REQ_get_subject_name(csr.req.get())), "a.example");
    EXPECT_EQ(X509_REQ_verify(csr.req.get(), key.get()), 1);
  }
}

TEST(AcmeCertificateRequest, NameLongerThanACommonNameIsInTheSanOnly) {
  std::string longName = std::string(60, 'a') + ".example";  // 68 > ub-common-name (64)
  Result<std::string> keyPem = newPrivateKeyPem(KeyType::kEcdsaP256);
  ASSERT_TRUE(keyPem);
  Result<std::string> der = makeCsrDer({longName}, *keyPem);
  ASSERT_TRUE(der) << der.error().message;
  Csr csr = parseCsr(*der);
  ASSERT_TRUE(csr.req);
  EXPECT_EQ(csr.sans, std::vector<std::string>{longName});
  EXPECT_EQ(commonName(X509_REQ_get_subject_name(csr.req.get())), "");
}

TEST(AcmeCertificateRequest, CsrRefusesNoNamesAndABadKey) {
  Result<std::string> keyPem = newPrivateKeyPem(KeyType::kEcdsaP256);
  ASSERT_TRUE(keyPem);
  EXPECT_FALSE(makeCsrDer({}, *keyPem));
  EXPECT_FALSE(makeCsrDer({"a.example"}, "no key"));
}

TEST(AcmeCertificateRequest, TlsAlpnCertificateCarriesTheCriticalAcmeIdentifier) {
  const std::string keyAuthorization = "token-abc.thumbprint-xyz";
  Result<PemPair> pair = tlsAlpnChallengeCertificate("host.example", keyAuthorization);
  ASSERT_TRUE(pair) << pair.error().message;
  ossl::UniquePtr<X509> cert = certOf(pair->certPem);
  ossl::UniquePtr<EVP_PKEY> key = keyOf(pair->keyPem);
  ASSERT_TRUE(cert && key);
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
  EXPECT_EQ(X509_verify(cert.get(), key.get()), 1);  // self-signed
  EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "EC"));

  ossl::UniquePtr<ASN1_OBJECT> oid(OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1));
  int at = X509_get_ext_by_OBJ(cert.get(), oid.get(), -1);
  ASSERT_GE(at, 0);
  X509_EXTENSION* ext = X509_get_ext(cert.get(), at);
  EXPECT_EQ(X509_EXTENSION_get_critical(ext), 1);
  // extnValue = DER OCTET STRING (04 20) of SHA-256(key authorization).
  std::array<unsigned char, 32> digest = {};
  SHA256(reinterpret_cast<const unsigned char*>(keyAuthorization.data()), keyAuthorization.size(),
         digest.data());
  std::string expected = std::string("\x04\x20", 2) +
                         std::string(reinterpret_cast<const char*>(digest.data()), digest.size());
  ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(ext);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                        ASN1_STRING_length(value)),
            expected);

  ossl::UniquePtr<GENERAL_NAMES> san(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  EXPECT_EQ(dnsNamesOf(san.get()), std::vector<std::string>{"host.example"});
}

TEST(AcmeCertificateRequest, TlsAlpnCertificateIsValidFromAnHourAgoForAWeek) {
  std::time_t now = std::time(nullptr);
  Result<PemPair> pair = tlsAlpnChallengeCertificate("host.example", "k.a");
  ASSERT_TRUE(pair);
  Result<CertFacts> facts = certFacts(pair->certPem);
  ASSERT_TRUE(facts) << facts.error().message;
  EXPECT_NEAR(static_cast<double>(facts->notBefore), static_cast<double>(now - 3600), 300);
  EXPECT_NEAR(static_cast<double>(facts->notAfter), static_cast<double>(now + 7 * 86400), 300);
  EXPECT_EQ(facts->names, std::vector<std::string>{"host.example"});
  EXPECT_EQ(facts->ariCertId, "");  // no authority key identifier
}

void addExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ossl::UniquePtr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  ASSERT_TRUE(ext);
  X509_add_ext(cert, ext.get(), -1);
}

// The example of RFC 9773 section 4.1: keyIdentifier 69:88:5B:...:D4, serial 0x87654321.
std::string rfc9773ExampleCertificate() {
  ossl::UniquePtr<EVP_PKEY> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  ossl::UniquePtr<X509> cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), 0x87654321);
  X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, 0, nullptr);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), 90, 0, nullptr);
  X509_set_pubkey(cert.get(), key.get());
  addExtension(cert.get(), NID_subject_key_identifier,
               "69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4");
  addExtension(cert.get(), NID_authority_key_identifier, "keyid:always");
  addExtension(cert.get(), NID_subject_alt_name, "DNS:a.example,DNS:b.example");
  X509_sign(cert.get(), key.get(), EVP_sha256());
  ossl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert.get());
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, size);
}

TEST(AcmeCertificateRequest, CertFactsReadsTheLeafAndItsAriCertId) {
  std::time_t now = std::time(nullptr);
  std::string leaf = rfc9773ExampleCertificate();
  Result<PemPair> other = tlsAlpnChallengeCertificate("other.example", "k.a");
  ASSERT_TRUE(other);
  Result<CertFacts> facts = certFacts(leaf + other->certPem);  // leaf first, then "chain"
  ASSERT_TRUE(facts) << facts.error().message;
  EXPECT_EQ(facts->ariCertId, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  EXPECT_EQ(facts->names, (std::vector<std::string>{"a.example", "b.example"}));
  EXPECT_NEAR(static_cast<double>(facts->notBefore), static_cast<double>(now), 300);
  EXPECT_NEAR(static_cast<double>(facts->notAfter), static_cast<double>(now + 90 * 86400), 300);
  EXPECT_FALSE(certFacts("no certificate here"));
}

}  // namespace
}  // namespace tlsgate::acme
