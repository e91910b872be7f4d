// S11 / S15: certificate selection from the certificate store.
#include "tls/cert_store.h"

#include <gtest/gtest.h>

#include "test_pki.h"

namespace tlsgate::tls {
namespace {

using MulticertEntry = CertSpec;
using testing::KeyKind;
using testing::TestPki;

class CertStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new TestPki();
    auto add = [](const char* stem, const char* cn, std::vector<std::string> dns) {
      certs_[stem] = pki_->issue(stem, cn, dns);
    };
    add("exact", "www.example.com", {"www.example.com", "api.example.com"});
    add("wild", "*.example.com", {"*.example.com"});
    add("byip", "byip.test", {});
    add("byipport", "byipport.test", {});
    add("default", "default.test", {});
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  static MulticertEntry entry(const char* stem, int line, std::optional<DestIp> dest = {}) {
    MulticertEntry e;
    e.line = line;
    e.certFiles = {certs_[stem].certFile};
    e.keyFiles = {certs_[stem].keyFile};
    e.destIp = dest;
    return e;
  }
  static DestIp ip(const char* text) {
    DestIp d;
    d.address = *net::parseAddress(text, false, &d.hasPort);
    return d;
  }
  static DestIp any() {
    DestIp d;
    d.any = true;
    return d;
  }
  static std::unique_ptr<CertStore> build(const std::vector<MulticertEntry>& entries) {
    auto store = CertStore::build(entries, "ssl_multicert.config", ServerParams{});
    EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().toString());
    return std::move(store.value());
  }
  static net::Address addr(const char* text) { return *net::parseAddress(text, true); }

  static TestPki* pki_;
  static std::map<std::string, testing::TestCert> certs_;
};
TestPki* CertStoreTest::pki_ = nullptr;
std::map<std::string, testing::TestCert> CertStoreTest::certs_;

TEST_F(CertStoreTest, S11ExactNameBeatsWildcard) {
  auto store = build({entry("wild", 1), entry("exact", 2)});
  EXPECT_EQ(store->select("www.example.com", addr("10.0.0.1:443"))->line, 2);
  EXPECT_EQ(store->select("api.example.com", addr("10.0.0.1:443"))->line, 2);  // a SAN
  EXPECT_EQ(store->select("other.example.com", addr("10.0.0.1:443"))->line, 1);
}

TEST_F(CertStoreTest, S11NameMatchIsCaseInsensitive) {
  auto store = build({entry("exact", 1)});
  EXPECT_EQ(store->findByName("WWW.Example.COM")->line, 1);
}

TEST_F(CertStoreTest, S11WildcardCoversOneLabelOnly) {
  auto store = build({entry("wild", 1)});
  EXPECT_NE(store->findByName("a.example.com"), nullptr);
  EXPECT_EQ(store->findByName("a.b.example.com"), nullptr);
  EXPECT_EQ(store->findByName("example.com"), nullptr);
}

TEST_F(CertStoreTest, S11DestinationIpWhenNoNameMatches) {
  auto store =
      build({entry("exact", 1), entry("byip", 2, ip("10.0.0.1")), entry("default", 3, any())});
  EXPECT_EQ(store->select("", addr("10.0.0.1:443"))->line, 2);
  EXPECT_EQ(store->select("unknown.test", addr("10.0.0.1:443"))->line, 2);
  EXPECT_EQ(store->select("www.example.com", addr("10.0.0.1:443"))->line, 1);  // SNI first
}

TEST_F(CertStoreTest, S11IpPortBeatsIp) {
  auto store = build({entry("byip", 1, ip("10.0.0.1")), entry("byipport", 2, ip("10.0.0.1:8443"))});
  EXPECT_EQ(store->select("", addr("10.0.0.1:8443"))->line, 2);
  EXPECT_EQ(store->select("", addr("10.0.0.1:443"))->line, 1);
}

TEST_F(CertStoreTest, S11Ipv6Destination) {
  auto store = build({entry("byip", 1, ip("[::1]:443"))});
  EXPECT_EQ(store->select("", addr("[::1]:443"))->line, 1);
  EXPECT_EQ(store->select("", addr("[::1]:444")), nullptr);
}

TEST_F(CertStoreTest, S11DefaultWhenNothingElseMatches) {
  auto store = build({entry("exact", 1), entry("default", 2, any())});
  EXPECT_EQ(store->select("nope.test", addr("10.0.0.9:443"))->line, 2);
  EXPECT_EQ(store->select("", addr("10.0.0.9:443"))->line, 2);
}

TEST_F(CertStoreTest, S15NoDefaultLineMeansNoCertificate) {
  auto store = build({entry("exact", 1)});
  EXPECT_EQ(store->defaultEntry(), nullptr);
  EXPECT_EQ(store->select("nope.test", addr("10.0.0.9:443")), nullptr);
}

TEST_F(CertStoreTest, S15NamesFromCnAndDnsSans) {
  auto store = build({entry("exact", 1), entry("byip", 2, ip("10.0.0.1"))});
  // byip has no SAN: its CN still names it.
  EXPECT_EQ(store->findByName("byip.test")->line, 2);
  const auto& names = store->entries()[0]->certs[0]->names;
  EXPECT_NE(std::find(names.begin(), names.end(), "api.example.com"), names.end());
}

TEST_F(CertStoreTest, S15FirstEntryKeepsADuplicateName) {
  auto store = build({entry("exact", 1), entry("exact", 2)});
  EXPECT_EQ(store->findByName("www.example.com")->line, 1);
}

TEST_F(CertStoreTest, S15DualCertificatesInOneEntry) {
  auto rsa = pki_->issue("dual-rsa", "dual.test", {"dual.test"}, KeyKind::kRsa);
  auto ec = pki_->issue("dual-ec", "dual.test", {"dual.test"}, KeyKind::kEcdsa);
  MulticertEntry e;
  e.line = 1;
  e.certFiles = {rsa.certFile, ec.certFile};
  e.keyFiles = {rsa.keyFile, ec.keyFile};
  auto store = build({e});
  const auto& certs = store->entries()[0]->certs;
  ASSERT_EQ(certs.size(), 2u);
  EXPECT_EQ(certs[0]->keyType, "RSA-2048");
  EXPECT_EQ(certs[1]->keyType, "EC-prime256v1");
}

TEST_F(CertStoreTest, ErrorsNameTheFileAndLine) {
  MulticertEntry missing = entry("exact", 7);
  missing.certFiles = {pki_->dir() + "/does-not-exist.crt"};
  auto store =
      CertStore::build({entry("wild", 3), missing}, "conf/ssl_multicert.config", ServerParams{});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().file, "conf/ssl_multicert.config");
  EXPECT_EQ(store.error().line, 7);
  EXPECT_NE(store.error().message.find("does-not-exist.crt"), std::string::npos);
}

TEST_F(CertStoreTest, KeyThatDoesNotMatchIsAnError) {
  MulticertEntry mismatched = entry("exact", 4);
  mismatched.keyFiles = {certs_["wild"].keyFile};
  auto store = CertStore::build({mismatched}, "m.config", ServerParams{});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().line, 4);
  EXPECT_NE(store.error().message.find("does not match"), std::string::npos);
}

// Enough entries that they load on several threads: the store must be the one a single
// thread builds (file order decides which entry claims a name), and the error the first
// one in the file.
TEST_F(CertStoreTest, S15ManyEntriesLoadInParallelAndKeepFileOrder) {
  const char* stems[] = {"wild", "exact", "byip", "byipport", "default"};
  std::vector<MulticertEntry> entries;
  for (int i = 0; i < 1000; ++i) entries.push_back(entry(stems[(i + 3) % 5], i + 1));
  auto store = build(entries);
  ASSERT_EQ(store->entries().size(), 1000u);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(store->entries()[i]->line, i + 1);
  // "exact" first appears at i = 3 (line 4), "wild" at i = 2 (line 3).
  EXPECT_EQ(store->findByName("www.example.com")->line, 4);
  EXPECT_EQ(store->findByName("other.example.com")->line, 3);

  entries[399].certFiles = {pki_->dir() + "/missing-400.crt"};
  entries[699].certFiles = {pki_->dir() + "/missing-700.crt"};
  auto failed = CertStore::build(entries, "ssl_multicert.config", ServerParams{});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().line, 400) << failed.error().toString();
  EXPECT_NE(failed.error().message.find("missing-400.crt"), std::string::npos)
      << failed.error().toString();
}

}  // namespace
}  // namespace tlsgate::tls
