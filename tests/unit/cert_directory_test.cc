// ssl.cert_directory (tls/cert_directory.h): the LRU behind its two caches, which names may
// be looked up, which files serve a name, and the directory with its loader thread: loads,
// unknown names, the bounds, and what a reload keeps. Files are made at test time.
#include "tls/cert_directory.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "test_pki.h"
#include "tls/cert_directory_files.h"
#include "tls/lru_map.h"

namespace tlsgate::tls {
namespace {

namespace fs = std::filesystem;
using stats::Counter;
using testing::TestCert;
using testing::TestPki;

// --- LruMap -------------------------------------------------------------------------------

TEST(LruMap, FullItDropsTheLeastRecentlyUsedAndHandsItBack) {
  LruMap<int> lru(2);
  EXPECT_FALSE(lru.put("a", 1));
  EXPECT_FALSE(lru.put("b", 2));
  ASSERT_NE(lru.find("a"), nullptr);  // a is now the most recent: b goes first
  auto evicted = lru.put("c", 3);
  ASSERT_TRUE(evicted);
  EXPECT_EQ(evicted->first, "b");
  EXPECT_EQ(evicted->second, 2);
  EXPECT_EQ(lru.size(), 2u);
  EXPECT_EQ(lru.find("b"), nullptr);
  EXPECT_EQ(*lru.find("a"), 1);
  EXPECT_EQ(lru.keys(), (std::vector<std::string>{"a", "c"}));
}

TEST(LruMap, PeekDoesNotChangeTheOrderAndPutReplaces) {
  LruMap<int> lru(2);
  lru.put("a", 1);
  lru.put("b", 2);
  EXPECT_EQ(*lru.peek("a"), 1);
  EXPECT_FALSE(lru.put("b", 20)) << "a replaced value evicts nothing";
  auto evicted = lru.put("c", 3);
  ASSERT_TRUE(evicted);
  EXPECT_EQ(evicted->first, "a") << "peek did not make a recent";
  EXPECT_EQ(*lru.peek("b"), 20);
}

TEST(LruMap, EraseAndReleaseHandBackWhatTheyRemove) {
  LruMap<std::string> lru(3);
  lru.put("a", "x");
  lru.put("b", "y");
  EXPECT_EQ(lru.erase("a"), "x");
  EXPECT_FALSE(lru.erase("a"));
  auto all = lru.release();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all.front().second, "y");
  EXPECT_EQ(lru.size(), 0u);
  EXPECT_EQ(lru.find("b"), nullptr);
  EXPECT_EQ(LruMap<int>(0).capacity(), 1u) << "never less than one";
}

// --- names ----------------------------------------------------------------------------------

TEST(CertDirectoryNames, OnlyHostNamesAreLookedUp) {
  for (const char* ok : {"a.test", "a", "www-1.example.com", "xn--bcher-kva.example", "0.a"})
    EXPECT_TRUE(isDirectoryName(ok)) << ok;
  const std::string longLabel(64, 'a');
  const std::string tooLong = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                              std::string(63, 'c') + "." + std::string(63, 'd');
  for (const std::string& bad :
       {std::string(), std::string("."), std::string(".a.test"), std::string("a.test."),
        std::string("a..test"), std::string("../etc"), std::string("a/b"), std::string("*.a.test"),
        std::string("A.test"), std::string("a_b.test"), std::string("a test"), std::string("a\\b"),
        longLabel + ".test", tooLong})
    EXPECT_FALSE(isDirectoryName(bad)) << "'" << bad << "'";
  const std::string longest = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                              std::string(63, 'c') + "." + std::string(61, 'd');
  EXPECT_EQ(longest.size(), 253u);
  EXPECT_TRUE(isDirectoryName(longest));
}

// --- files ----------------------------------------------------------------------------------

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class CertDirectoryFilesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new TestPki();
    a_ = pki_->issue("a", "a.test", {"a.test"});
    b_ = pki_->issue("b", "b.test", {"b.test"});
    wild_ = pki_->issue("wild", "*.w.test", {"*.w.test"});
    other_ = pki_->issue("other", "other.test", {"other.test"});
  }
  static void TearDownTestSuite() { delete pki_; }

  void SetUp() override {
    char tmpl[] = "/tmp/tlsgate-certdir-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // <stem>.pem with the certificate and the key in it.
  void combined(const std::string& stem, const TestCert& c) {
    std::ofstream(dir_ + "/" + stem + ".pem") << slurp(c.certFile) << slurp(c.keyFile);
  }
  // <stem>.pem and <stem>.key.
  void separate(const std::string& stem, const TestCert& c) {
    fs::copy_file(c.certFile, dir_ + "/" + stem + ".pem", fs::copy_options::overwrite_existing);
    fs::copy_file(c.keyFile, dir_ + "/" + stem + ".key", fs::copy_options::overwrite_existing);
  }

  static inline TestPki* pki_ = nullptr;
  static inline TestCert a_, b_, wild_, other_;
  std::string dir_;
};

TEST_F(CertDirectoryFilesTest, TheKeyInTheCertificateFileOrBesideIt) {
  combined("a.test", a_);
  separate("b.test", b_);
  DirectoryLoad a = loadName(dir_, "a.test", ServerParams{});
  ASSERT_EQ(a.kind, DirectoryLoad::Kind::kLoaded) << a.problem;
  EXPECT_EQ(a.files.keyFile, "");
  EXPECT_TRUE(entryCovers(*a.entry, "a.test"));
  DirectoryLoad b = loadName(dir_, "b.test", ServerParams{});
  ASSERT_EQ(b.kind, DirectoryLoad::Kind::kLoaded) << b.problem;
  EXPECT_EQ(b.files.keyFile, dir_ + "/b.test.key");
  EXPECT_EQ(b.entry->certs.front()->names, std::vector<std::string>{"b.test"});
}

TEST_F(CertDirectoryFilesTest, AWildcardFileServesOneLabelNamesWithoutTheirOwn) {
  combined("*.w.test", wild_);
  DirectoryLoad x = loadName(dir_, "x.w.test", ServerParams{});
  ASSERT_EQ(x.kind, DirectoryLoad::Kind::kLoaded) << x.problem;
  EXPECT_EQ(x.files.certFile, dir_ + "/*.w.test.pem");
  EXPECT_EQ(loadName(dir_, "y.x.w.test", ServerParams{}).kind, DirectoryLoad::Kind::kNoFile);
  EXPECT_EQ(loadName(dir_, "w.test", ServerParams{}).kind, DirectoryLoad::Kind::kNoFile);
  // A file of its own wins over the wildcard (and must cover the name itself).
  combined("e.w.test", other_);
  DirectoryLoad e = loadName(dir_, "e.w.test", ServerParams{});
  EXPECT_EQ(e.kind, DirectoryLoad::Kind::kFailed);
  EXPECT_NE(e.problem.find("not valid for the name (it is for other.test)"), std::string::npos)
      << e.problem;
}

TEST_F(CertDirectoryFilesTest, ACertificateForAnotherNameOrABrokenFileDoesNotServe) {
  combined("a.test", b_);
  DirectoryLoad wrong = loadName(dir_, "a.test", ServerParams{});
  EXPECT_EQ(wrong.kind, DirectoryLoad::Kind::kFailed);
  EXPECT_NE(wrong.problem.find("a.test.pem"), std::string::npos) << wrong.problem;
  std::ofstream(dir_ + "/c.test.pem") << "not a certificate\n";
  DirectoryLoad broken = loadName(dir_, "c.test", ServerParams{});
  EXPECT_EQ(broken.kind, DirectoryLoad::Kind::kFailed);
  EXPECT_NE(broken.problem.find("c.test.pem"), std::string::npos) << broken.problem;
  EXPECT_EQ(loadName(dir_, "none.test", ServerParams{}).kind, DirectoryLoad::Kind::kNoFile);
}

TEST_F(CertDirectoryFilesTest, AChangedFileHasAnotherStamp) {
  combined("a.test", a_);
  std::string problem;
  auto before = findFiles(dir_, "a.test", problem);
  ASSERT_TRUE(before);
  EXPECT_EQ(findFiles(dir_, "a.test", problem), before);
  // Rewritten in place with other bytes: size and mtime move.
  std::ofstream(dir_ + "/a.test.pem", std::ios::app) << "\n";
  EXPECT_NE(findFiles(dir_, "a.test", problem), before);
  EXPECT_TRUE(problem.empty()) << problem;
}

TEST_F(CertDirectoryFilesTest, TheFolderMustBeADirectory) {
  EXPECT_EQ(directoryProblem(dir_), "");
  EXPECT_NE(directoryProblem(dir_ + "/missing").find("No such file"), std::string::npos);
  std::ofstream(dir_ + "/file") << "x";
  EXPECT_NE(directoryProblem(dir_ + "/file").find("is not a directory"), std::string::npos);
}

// --- the directory and its loader -------------------------------------------------------------

class CertDirectoryTest : public CertDirectoryFilesTest {
 protected:
  std::unique_ptr<CertDirectory> open(size_t cacheSize, std::chrono::seconds ttl,
                                      bool start = true) {
    auto d = std::make_unique<CertDirectory>(
        CertDirectorySettings{dir_, cacheSize, ttl, std::chrono::seconds(5)}, ServerParams{});
    if (start) d->start(*counters_);
    return d;
  }
  // request(), then the answer (a generous deadline: the loader parses a certificate).
  static bool load(CertDirectory& d, const std::string& name) {
    auto answered = std::make_shared<std::promise<void>>();
    d.request(name, [answered] { answered->set_value(); });
    return answered->get_future().wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  }
  uint64_t count(Counter c) const { return counters_->get(c); }
  // The loader counts after it answers: wait for the count.
  bool countReaches(Counter c, uint64_t n) const {
    for (int i = 0; i < 3000 && count(c) < n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return count(c) >= n;
  }

  // A loader may still be ending when its test is over: its block outlives every test.
  static stats::CounterRegistry& registry() {
    static auto* registry = new stats::CounterRegistry();
    return *registry;
  }
  stats::CounterBlock* counters_ = &registry().newBlock();
};

TEST_F(CertDirectoryTest, ANameIsLoadedOnceThenServedFromTheCache) {
  combined("a.test", a_);
  auto d = open(10, std::chrono::seconds(60));
  EXPECT_EQ(d->lookup("a.test").found, CertDirectory::Found::kNotLoaded);
  ASSERT_TRUE(load(*d, "a.test"));
  CertDirectory::Lookup hit = d->lookup("a.test");
  ASSERT_EQ(hit.found, CertDirectory::Found::kEntry);
  EXPECT_TRUE(entryCovers(*hit.entry, "a.test"));
  EXPECT_EQ(d->lookup("a.test").entry, hit.entry);
  ASSERT_TRUE(countReaches(Counter::kSslCertDirectoryLoads, 1));
  EXPECT_EQ(count(Counter::kSslCertDirectoryEntries), 1u);
  EXPECT_EQ(d->cached(), 1u);
}

TEST_F(CertDirectoryTest, AnUnknownNameIsRememberedForTheTtlAndOnlyWithOne) {
  auto d = open(10, std::chrono::seconds(600));
  ASSERT_TRUE(load(*d, "none.test"));
  EXPECT_EQ(d->lookup("none.test").found, CertDirectory::Found::kUnknown);
  EXPECT_TRUE(d->refused("none.test"));
  ASSERT_TRUE(countReaches(Counter::kSslCertDirectoryNotFound, 1));
  // A name that is no host name is unknown without a look.
  EXPECT_EQ(d->lookup("../a.test").found, CertDirectory::Found::kUnknown);
  EXPECT_TRUE(d->refused("a..test"));
  // negative_ttl 0: not remembered, looked up again.
  auto again = open(10, std::chrono::seconds(0));
  ASSERT_TRUE(load(*again, "none.test"));
  EXPECT_EQ(again->lookup("none.test").found, CertDirectory::Found::kNotLoaded);
}

TEST_F(CertDirectoryTest, TheCacheIsBoundedAndEvictedCertificatesStayUsable) {
  combined("a.test", a_);
  combined("b.test", b_);
  combined("*.w.test", wild_);
  auto d = open(2, std::chrono::seconds(60));
  ASSERT_TRUE(load(*d, "a.test"));
  std::shared_ptr<const CertEntry> held = d->lookup("a.test").entry;
  ASSERT_TRUE(held);
  ASSERT_TRUE(load(*d, "b.test"));
  ASSERT_TRUE(load(*d, "x.w.test"));
  ASSERT_TRUE(countReaches(Counter::kSslCertDirectoryEvictions, 1));
  EXPECT_EQ(d->lookup("a.test").found, CertDirectory::Found::kNotLoaded) << "the oldest went";
  EXPECT_EQ(d->cached(), 2u);
  EXPECT_EQ(count(Counter::kSslCertDirectoryEntries), 2u);
  EXPECT_TRUE(entryCovers(*held, "a.test")) << "the connection holding it keeps it";
}

TEST_F(CertDirectoryTest, AReloadForgetsUnknownNamesAndDropsChangedFiles) {
  combined("a.test", a_);
  auto d = open(10, std::chrono::seconds(600));
  ASSERT_TRUE(load(*d, "a.test"));
  ASSERT_TRUE(load(*d, "b.test"));
  EXPECT_EQ(d->lookup("b.test").found, CertDirectory::Found::kUnknown);
  combined("b.test", b_);
  d->reloaded();
  EXPECT_EQ(d->lookup("b.test").found, CertDirectory::Found::kNotLoaded);
  EXPECT_EQ(d->lookup("a.test").found, CertDirectory::Found::kEntry) << "unchanged: kept";
  // a.test's file replaced: the loader drops it after the next reload.
  separate("a.test", a_);
  d->reloaded();
  ASSERT_TRUE(countReaches(Counter::kSslCertDirectoryStale, 1));
  EXPECT_EQ(d->lookup("a.test").found, CertDirectory::Found::kNotLoaded);
  EXPECT_EQ(count(Counter::kSslCertDirectoryEntries), 0u);
}

TEST_F(CertDirectoryTest, OneLoadPerNameAndABoundedQueue) {
  auto idle = open(10, std::chrono::seconds(60), /*start=*/false);  // nothing takes names out
  int answered = 0;
  for (size_t i = 0; i < CertDirectory::kMaxQueued; ++i)
    idle->request("n" + std::to_string(i) + ".test", [&] { ++answered; });
  idle->request("n0.test", [&] { ++answered; });  // joins the pending load
  EXPECT_EQ(answered, 0);
  EXPECT_EQ(idle->lookup("n0.test").found, CertDirectory::Found::kNotLoaded);
  EXPECT_EQ(idle->lookup("more.test").found, CertDirectory::Found::kQueueFull);
  idle->request("more.test", [&] { ++answered; });
  EXPECT_EQ(answered, 1) << "no room: answered at once";
}

TEST_F(CertDirectoryTest, ASetupIsKeptOnlyWithTheSameSettingsAndTlsParameters) {
  auto d = open(10, std::chrono::seconds(60), /*start=*/false);
  CertDirectorySettings same{dir_, 10, std::chrono::seconds(60), std::chrono::seconds(5)};
  EXPECT_TRUE(d->sameSetup(same, ServerParams{}));
  CertDirectorySettings bigger = same;
  bigger.cacheSize = 11;
  EXPECT_FALSE(d->sameSetup(bigger, ServerParams{}));
  ServerParams otherCiphers;
  otherCiphers.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
  EXPECT_FALSE(d->sameSetup(same, otherCiphers));
  ServerParams otherKeyLog;
  otherKeyLog.keyLog = reinterpret_cast<const KeyLog*>(&otherKeyLog);  // only compared
  EXPECT_FALSE(d->sameSetup(same, otherKeyLog)) << "the contexts point to the key log";
  // What the handshake reads from the snapshot, not from a context, may change.
  ServerParams handshakeOnly;
  handshakeOnly.alpnWire = "\x02h2";
  handshakeOnly.handshakeTimeout = std::chrono::seconds(7);
  handshakeOnly.wireTrace = reinterpret_cast<const WireTraceFilter*>(&handshakeOnly);
  EXPECT_TRUE(d->sameSetup(same, handshakeOnly));
}

}  // namespace
}  // namespace tlsgate::tls
