// Issue 19: the certificate store past a context per entry, and the facts read from DER.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/read_file.h"
#include "test_pki.h"
#include "tls/cert_facts.h"
#include "tls/cert_loader.h"
#include "tls/cert_store.h"

namespace tlsgate::tls {
namespace {

using testing::KeyKind;
using testing::TestPki;

std::string subjectOf(SSL* ssl) {
  X509* cert = SSL_get_certificate(ssl);
  return cert ? certificateSubject(cert) : "";
}

class CertStoreScaleTest : public ::testing::Test {
 protected:
  // More entries than get a context each, and a default.
  static void SetUpTestSuite() {
    pki_ = new TestPki();
    for (size_t i = 0; i <= kContextPerEntryUpTo; ++i) {
      const std::string name = "n" + std::to_string(i) + ".scale.test";
      auto cert = pki_->issue("n" + std::to_string(i), name, {name});
      CertSpec spec;
      spec.line = static_cast<int>(i) + 1;
      spec.certFiles = {cert.certFile};
      spec.keyFiles = {cert.keyFile};
      specs_.push_back(spec);
    }
    auto def = pki_->issue("default", "default.test", {});
    CertSpec spec;
    spec.line = static_cast<int>(specs_.size()) + 1;
    spec.certFiles = {def.certFile};
    spec.keyFiles = {def.keyFile};
    spec.destIp = DestIp{true, {}, false};
    specs_.push_back(spec);
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
    specs_.clear();
  }
  static std::unique_ptr<CertStore> build(const std::vector<CertSpec>& specs) {
    auto store = CertStore::build(specs, "ssl_multicert.config", ServerParams{});
    EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().toString());
    return std::move(store.value());
  }

  static TestPki* pki_;
  static std::vector<CertSpec> specs_;
};
TestPki* CertStoreScaleTest::pki_ = nullptr;
std::vector<CertSpec> CertStoreScaleTest::specs_;

TEST_F(CertStoreScaleTest, ALargeStoreHasOneContextAndPutsCertificatesOnTheConnection) {
  auto store = build(specs_);
  const CertEntry* five = store->findByName("n5.scale.test");
  ASSERT_NE(five, nullptr);
  EXPECT_EQ(five->ctx, nullptr);
  ASSERT_NE(store->defaultEntry(), nullptr);
  EXPECT_EQ(store->defaultEntry()->ctx.get(), store->trampoline());

  ossl::UniquePtr<SSL> ssl(SSL_new(store->trampoline()));
  EXPECT_EQ(subjectOf(ssl.get()), "CN=default.test");
  ServedCerts served;
  int hits = 0, misses = 0;
  ASSERT_TRUE(store->serve(ssl.get(), *five, served, hits, misses));
  EXPECT_EQ(subjectOf(ssl.get()), "CN=n5.scale.test");
  EXPECT_EQ(served.infoOf(SSL_get_certificate(ssl.get())), five->certs[0].get());
  EXPECT_EQ(hits + misses, 1);
}

// A CERT hook that names the default entry after the handshake served another one: the
// connection is on the default's context all along, but carries the other's certificates.
TEST_F(CertStoreScaleTest, ALaterChoiceOfTheDefaultReplacesTheCertificatesPutOnTheConnection) {
  auto store = build(specs_);
  ossl::UniquePtr<SSL> ssl(SSL_new(store->trampoline()));
  ServedCerts served;
  int hits = 0, misses = 0;
  ASSERT_TRUE(store->serve(ssl.get(), *store->findByName("n7.scale.test"), served, hits, misses));
  ASSERT_EQ(subjectOf(ssl.get()), "CN=n7.scale.test");
  ASSERT_TRUE(store->serve(ssl.get(), *store->defaultEntry(), served, hits, misses,
                           /*fresh=*/false));
  EXPECT_EQ(subjectOf(ssl.get()), "CN=default.test");
  EXPECT_NE(served.infoOf(SSL_get_certificate(ssl.get())), nullptr);
}

TEST_F(CertStoreScaleTest, ASmallStoreSwitchesToAContextPerEntry) {
  std::vector<CertSpec> few(specs_.begin(), specs_.begin() + 3);
  few.push_back(specs_.back());
  auto store = build(few);
  const CertEntry* one = store->findByName("n1.scale.test");
  ASSERT_NE(one, nullptr);
  ASSERT_NE(one->ctx, nullptr);
  ossl::UniquePtr<SSL> ssl(SSL_new(store->trampoline()));
  ServedCerts served;
  int hits = 0, misses = 0;
  ASSERT_TRUE(store->serve(ssl.get(), *one, served, hits, misses));
  EXPECT_EQ(SSL_get_SSL_CTX(ssl.get()), one->ctx.get());
  EXPECT_EQ(subjectOf(ssl.get()), "CN=n1.scale.test");
  EXPECT_EQ(hits + misses, 0) << "a context's certificates are parsed at load";
}

// The DER walk reads what OpenSSL's parser reads, for RSA and ECDSA certificates, and
// declines (nullopt) what it cannot read rather than guessing.
TEST_F(CertStoreScaleTest, FactsFromTheDerWalkAreThoseOfTheParsedCertificate) {
  for (KeyKind kind : {KeyKind::kEcdsa, KeyKind::kRsa}) {
    auto cert = pki_->issue(kind == KeyKind::kRsa ? "facts-rsa" : "facts-ec", "facts.test",
                            {"facts.test", "*.facts.test", "Other.Facts.Test"}, kind);
    auto pem = readCertificateFile(cert.certFile, file_limit::kCertificate);
    ASSERT_TRUE(pem.ok());
    X509* x = pem->front().get();
    unsigned char* der = nullptr;
    const int len = i2d_X509(x, &der);
    ASSERT_GT(len, 0);
    std::string bytes(reinterpret_cast<char*>(der), static_cast<size_t>(len));
    OPENSSL_free(der);
    auto walked = certFactsOfDer(bytes);
    ASSERT_TRUE(walked.has_value());
    CertFacts parsed = certFactsOf(x);
    EXPECT_EQ(walked->names, parsed.names);
    EXPECT_EQ(walked->names,
              (std::vector<std::string>{"facts.test", "*.facts.test", "other.facts.test"}));
    EXPECT_EQ(walked->subject, "CN=facts.test");
    EXPECT_EQ(walked->notAfter, parsed.notAfter);
    EXPECT_NE(walked->notAfter, 0);
    for (size_t cut : {size_t{0}, size_t{1}, bytes.size() / 2, bytes.size() - 1})
      EXPECT_FALSE(certFactsOfDer(bytes.substr(0, cut)).has_value()) << cut;
    EXPECT_FALSE(certFactsOfDer(bytes + "x").has_value()) << "trailing bytes";
  }
}

}  // namespace
}  // namespace tlsgate::tls
