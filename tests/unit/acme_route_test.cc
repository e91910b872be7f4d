// The ACME client's certificates in the route decision (proxy/route_decision.cc) and the
// store behind them (tls/managed_certs.h): who wins when ssl_multicert.config and ACME name
// the same host, and which ClientHello is an ACME tls-alpn-01 validation. No sockets.
#include <gtest/gtest.h>

#include "core/read_file.h"
#include "multicert_route_fixture.h"
#include "tls/managed_certs.h"

namespace tlsgate::proxy {
namespace {

using testing::TestCert;

const std::string kAcmeAlpn = std::string("\x0a") + "acme-tls/1";

class AcmeRouteTest : public MulticertRouteFixture {
 protected:
  static void SetUpTestSuite() {
    MulticertRouteFixture::SetUpTestSuite();
    acme_ = pki_->issue("acme", "a.test", {"a.test", "x.w.test", "b.test"});
    challenge_ = pki_->issue("challenge", "c.test", {"c.test"});
  }

  void SetUp() override {
    MulticertRouteFixture::SetUp();
    snapshot_.managedCerts = std::make_shared<tls::ManagedCertStore>(params_);
  }

  static tls::ManagedCert managed(const TestCert& c, std::vector<std::string> names) {
    tls::ManagedCert m;
    m.id = names.front();
    m.names = std::move(names);
    m.chainPem = *readFile(c.certFile, file_limit::kCertificate);
    m.keyPem = *readFile(c.keyFile, file_limit::kCertificate);
    return m;
  }

  static inline TestCert acme_, challenge_;
};

TEST_F(AcmeRouteTest, AnExactMulticertNameWinsOverAcme) {
  ASSERT_TRUE(snapshot_.managedCerts->put(managed(acme_, {"a.test"})).ok());
  Terminate t = terminate("a.test");
  EXPECT_EQ(t.entry->line, 1);
  EXPECT_FALSE(t.managed);
}

TEST_F(AcmeRouteTest, AcmeWinsOverAMulticertWildcardAndTheDefault) {
  ASSERT_TRUE(snapshot_.managedCerts->put(managed(acme_, {"x.w.test", "b.test"})).ok());
  Terminate viaWildcard = terminate("x.w.test");
  ASSERT_TRUE(viaWildcard.managed);
  EXPECT_EQ(viaWildcard.entry, viaWildcard.managed.get());
  EXPECT_FALSE(viaWildcard.sniMissed);
  EXPECT_EQ(terminate("b.test").entry, viaWildcard.entry);
  // Names it does not hold keep their multicert answers.
  EXPECT_EQ(terminate("y.w.test").entry->line, 2);
  EXPECT_EQ(terminate("other.test").entry->line, 3);
}

TEST_F(AcmeRouteTest, OnlyAClientHelloOfferingExactlyAcmeTlsGetsTheChallenge) {
  ASSERT_TRUE(snapshot_.managedCerts->put(managed(acme_, {"c.test"})).ok());
  auto pem = managed(challenge_, {"c.test"});
  ASSERT_TRUE(snapshot_.managedCerts->putChallenge("c.test", pem.chainPem, pem.keyPem).ok());
  Terminate validation = terminate("c.test", kAcmeAlpn);
  EXPECT_TRUE(validation.acmeChallenge);
  EXPECT_EQ(validation.entry, snapshot_.managedCerts->challenge("c.test").get());
  // acme-tls/1 among other protocols, or none: the served certificate, not the challenge.
  Terminate browser = terminate("c.test", std::string("\x02h2") + kAcmeAlpn);
  EXPECT_FALSE(browser.acmeChallenge);
  EXPECT_EQ(browser.entry, snapshot_.managedCerts->find("c.test").get());
  EXPECT_FALSE(terminate("c.test").acmeChallenge);
  // No pending challenge for the name: an ordinary handshake.
  Terminate noChallenge = terminate("other.test", kAcmeAlpn);
  EXPECT_FALSE(noChallenge.acmeChallenge);
  EXPECT_EQ(noChallenge.entry->line, 3);
  snapshot_.managedCerts->removeChallenge("c.test");
  EXPECT_FALSE(terminate("c.test", kAcmeAlpn).acmeChallenge);
}

TEST_F(AcmeRouteTest, ARenewalReplacesTheEntryAndTheOldOneLivesWhileHeld) {
  ASSERT_TRUE(snapshot_.managedCerts->put(managed(acme_, {"b.test", "x.w.test"})).ok());
  std::shared_ptr<const tls::CertEntry> held = snapshot_.managedCerts->find("b.test");
  ASSERT_TRUE(held);
  ASSERT_TRUE(snapshot_.managedCerts->put(managed(acme_, {"b.test"})).ok());
  auto now = snapshot_.managedCerts->find("b.test");
  EXPECT_NE(now, held);
  EXPECT_FALSE(snapshot_.managedCerts->find("x.w.test")) << "a name the renewal dropped";
  ASSERT_EQ(held->certs.size(), 1u);
  EXPECT_TRUE(tls::parseMaterial(*held->certs[0])) << "still usable";
  snapshot_.managedCerts->remove("b.test");
  EXPECT_FALSE(snapshot_.managedCerts->find("b.test"));
  EXPECT_TRUE(snapshot_.managedCerts->empty());
}

TEST_F(AcmeRouteTest, HttpTokensAreKeptUntilRemoved) {
  snapshot_.managedCerts->putToken("tok", "tok.thumb");
  EXPECT_EQ(snapshot_.managedCerts->keyAuthorization("tok"), "tok.thumb");
  EXPECT_FALSE(snapshot_.managedCerts->keyAuthorization("other"));
  snapshot_.managedCerts->removeToken("tok");
  EXPECT_FALSE(snapshot_.managedCerts->keyAuthorization("tok"));
}

TEST_F(AcmeRouteTest, AStoreRefusesAKeyThatDoesNotMatch) {
  tls::ManagedCert bad = managed(acme_, {"b.test"});
  bad.keyPem = *readFile(def_.keyFile, file_limit::kCertificate);
  auto st = snapshot_.managedCerts->put(bad);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("does not match"), std::string::npos) << st.error().message;
}

}  // namespace
}  // namespace tlsgate::proxy
