// Loading a certificate and its key from PEM files: the reused per-thread key decoder (the
// fast way) and the general way it falls back to must accept the same files and refuse the
// same ones.
#include "tls/cert_loader.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <fstream>
#include <sstream>

#include "core/text.h"
#include "test_pki.h"

namespace tlsgate::tls {
namespace {

using testing::KeyKind;
using testing::TestPki;

std::string slurp(const std::string& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ossl::UniquePtr<SSL_CTX> newContext() {
  return ossl::UniquePtr<SSL_CTX>(SSL_CTX_new(TLS_server_method()));
}

TEST(CertLoader, LoadsEcdsaAndRsaKeysAgainAndAgainOnOneThread) {
  TestPki pki;
  for (int i = 0; i < 3; ++i) {  // the decoder is reused from the second key on
    for (KeyKind kind : {KeyKind::kEcdsa, KeyKind::kRsa}) {
      auto cert = pki.issue(concat({"k", std::to_string(i), kind == KeyKind::kRsa ? "r" : "e"}),
                            "a.test", {"a.test"}, kind);
      auto ctx = newContext();
      auto loaded = loadCertificate(ctx.get(), cert.certFile, cert.keyFile, {});
      ASSERT_TRUE(loaded) << loaded.error().message;
      EXPECT_EQ(loaded->info.keyType.rfind(kind == KeyKind::kRsa ? "RSA-" : "EC-", 0), 0u)
          << loaded->info.keyType;
      EXPECT_EQ(SSL_CTX_check_private_key(ctx.get()), 1);
    }
  }
}

TEST(CertLoader, AKeyAfterTheCertificateInOneFileLoads) {
  TestPki pki;
  auto cert = pki.issue("both", "a.test", {"a.test"});
  const std::string combined = pki.dir() + "/combined.pem";
  std::ofstream(combined) << slurp(cert.certFile) << slurp(cert.keyFile);
  auto ctx = newContext();
  auto loaded = loadCertificate(ctx.get(), combined, "", {});
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(SSL_CTX_check_private_key(ctx.get()), 1);
}

TEST(CertLoader, AnEncryptedKeyIsRefusedWithoutAPrompt) {
  TestPki pki;
  auto cert = pki.issue("enc", "a.test", {"a.test"});
  ossl::UniquePtr<BIO> in(BIO_new_file(cert.keyFile.c_str(), "r"));
  ossl::UniquePtr<EVP_PKEY> key(PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(key);
  const std::string encrypted = pki.dir() + "/enc-encrypted.key";
  {
    ossl::UniquePtr<BIO> out(BIO_new_file(encrypted.c_str(), "w"));
    static char pass[] = "secret";
    ASSERT_EQ(PEM_write_bio_PrivateKey(out.get(), key.get(), EVP_aes_128_cbc(), nullptr, 0, nullptr,
                                       pass),
              1);
  }
  auto ctx = newContext();
  auto loaded = loadCertificate(ctx.get(), cert.certFile, encrypted, {});
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("missing or encrypted"), std::string::npos)
      << loaded.error().message;
}

TEST(CertLoader, AFileWithoutAKeyAndAKeyOfAnotherCertificateAreRefused) {
  TestPki pki;
  auto a = pki.issue("a", "a.test", {"a.test"});
  auto b = pki.issue("b", "b.test", {"b.test"});
  auto ctx = newContext();
  auto noKey = loadCertificate(ctx.get(), a.certFile, a.certFile, {});
  ASSERT_FALSE(noKey);
  EXPECT_NE(noKey.error().message.find("no usable private key"), std::string::npos);
  auto other = loadCertificate(newContext().get(), a.certFile, b.keyFile, {});
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message.find("does not match"), std::string::npos)
      << other.error().message;
}

// D3: a key of the other type would be filed in its own slot by SSL_CTX_use_PrivateKey and
// every handshake would fail: refused, naming the certificate and the key.
TEST(CertLoader, AKeyOfAnotherTypeIsRefused) {
  TestPki pki;
  auto ec = pki.issue("ec", "a.test", {"a.test"}, KeyKind::kEcdsa);
  auto rsa = pki.issue("rsa", "a.test", {"a.test"}, KeyKind::kRsa);
  for (auto [cert, key] : {std::pair{&ec, &rsa}, std::pair{&rsa, &ec}}) {
    auto loaded = loadCertificate(newContext().get(), cert->certFile, key->keyFile, {});
    ASSERT_FALSE(loaded);
    EXPECT_EQ(loaded.error().message, "private key does not match certificate '" + cert->certFile +
                                          "' (key '" + key->keyFile + "')");
  }
}

}  // namespace
}  // namespace tlsgate::tls
