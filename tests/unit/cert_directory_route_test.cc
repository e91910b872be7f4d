// ssl.cert_directory in the route decision (proxy/route_decision.cc): where the directory
// comes in the lookup order, when a handshake waits for it, and what each answer is counted
// as. No sockets; the directory's files are made at test time.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>

#include "multicert_route_fixture.h"
#include "tls/cert_directory.h"

namespace tlsgate::proxy {
namespace {

namespace fs = std::filesystem;
using stats::Counter;
using testing::TestCert;

class CertDirectoryRouteTest : public MulticertRouteFixture {
 protected:
  static void SetUpTestSuite() {
    MulticertRouteFixture::SetUpTestSuite();
    fromDir_ = pki_->issue("dir", "d.test", {"d.test", "a.test", "x.w.test"});
  }

  // The directory has a certificate for d.test, a.test and x.w.test under each of those
  // names (multicert lines 1 and 2 have a.test and x.w.test too).
  void SetUp() override {
    MulticertRouteFixture::SetUp();
    char tmpl[] = "/tmp/tlsgate-certdir-route-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (const char* name : {"d.test", "a.test", "x.w.test"}) {
      fs::copy_file(fromDir_.certFile, dir_ + "/" + name + ".pem");
      fs::copy_file(fromDir_.keyFile, dir_ + "/" + name + ".key");
    }
    snapshot_.certDirectory = std::make_shared<tls::CertDirectory>(
        tls::CertDirectorySettings{dir_, 10, std::chrono::seconds(600), std::chrono::seconds(5)},
        params_);
    snapshot_.certDirectory->start(*counters_);
  }
  void TearDown() override {
    snapshot_.certDirectory.reset();
    fs::remove_all(dir_);
  }

  // What the connection does with an AwaitCertificate: request, wait for the answer.
  void waitFor(const std::string& sni) {
    RouteDecision d = decideFor(sni);
    ASSERT_TRUE(std::holds_alternative<AwaitCertificate>(d)) << "decision index " << d.index();
    const AwaitCertificate& await = std::get<AwaitCertificate>(d);
    EXPECT_EQ(await.source, OnDemandSource::kDirectory);
    EXPECT_EQ(await.name, sni);
    EXPECT_EQ(await.gate, snapshot_.certDirectory.get());
    auto answered = std::make_shared<std::promise<void>>();
    await.gate->request(await.name, [answered] { answered->set_value(); });
    ASSERT_EQ(answered->get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  }

  static stats::CounterBlock* newBlock() {
    static auto* registry = new stats::CounterRegistry();  // outlives every loader
    return &registry->newBlock();
  }

  static inline TestCert fromDir_;
  std::string dir_;
  stats::CounterBlock* counters_ = newBlock();
};

TEST_F(CertDirectoryRouteTest, AMissWaitsOnceThenTheLoadedCertificateIsServedAndHeld) {
  waitFor("d.test");
  in_.directoryAnswered = true;
  Terminate served = terminate("d.test");
  ASSERT_TRUE(served.managed);
  EXPECT_EQ(served.entry, served.managed.get()) << "pinned by the decision";
  EXPECT_FALSE(served.sniMissed);
  EXPECT_FALSE(served.directoryOutcome) << "the wait was counted, as a miss";
  // The next handshake: a hit, at once.
  in_.directoryAnswered = false;
  Terminate hit = terminate("d.test");
  EXPECT_EQ(hit.entry, served.entry);
  EXPECT_EQ(hit.directoryOutcome, Counter::kSslCertDirectoryHits);
}

TEST_F(CertDirectoryRouteTest, MulticertNamesAndWildcardsComeFirst) {
  Terminate exact = terminate("a.test");
  EXPECT_EQ(exact.entry->line, 1);
  EXPECT_FALSE(exact.directoryOutcome) << "the directory was not asked";
  Terminate wildcard = terminate("x.w.test");
  EXPECT_EQ(wildcard.entry->line, 2);
  EXPECT_FALSE(wildcard.managed);
}

TEST_F(CertDirectoryRouteTest, AnUnknownNameGetsTheDefaultAtOnceAfterItsOneLoad) {
  waitFor("none.test");
  in_.directoryAnswered = true;
  Terminate fallback = terminate("none.test");
  EXPECT_EQ(fallback.entry->line, 3);
  EXPECT_TRUE(fallback.sniMissed);
  EXPECT_FALSE(fallback.directoryOutcome);
  in_.directoryAnswered = false;  // a later handshake: remembered, no wait
  Terminate again = terminate("none.test");
  EXPECT_EQ(again.entry->line, 3);
  EXPECT_EQ(again.directoryOutcome, Counter::kSslCertDirectoryUnknown);
}

TEST_F(CertDirectoryRouteTest, ANameThatIsNoHostNameNeverWaits) {
  for (const char* bad : {"..", "a..test", "../../etc/passwd", ".a.test", "a_b.test"}) {
    Terminate t = terminate(bad);
    EXPECT_EQ(t.entry->line, 3) << bad;
    EXPECT_EQ(t.directoryOutcome, Counter::kSslCertDirectoryUnknown) << bad;
  }
  // Without SNI the directory is not asked.
  Terminate none = terminate("");
  EXPECT_EQ(none.entry->line, 3);
  EXPECT_FALSE(none.directoryOutcome);
}

TEST_F(CertDirectoryRouteTest, AWaitThatEndedWithoutALoadServesTheDefault) {
  RouteDecision first = decideFor("late.test");
  ASSERT_TRUE(std::holds_alternative<AwaitCertificate>(first));
  in_.directoryAnswered = true;  // the connection's deadline passed
  Terminate t = terminate("late.test");
  EXPECT_EQ(t.entry->line, 3);
  EXPECT_FALSE(t.directoryOutcome) << "the timeout is counted by the connection";
}

// acme.on_demand's gate, as the route sees it: never refuses.
class OrderingGate final : public tls::OnDemandGate {
 public:
  bool refused(std::string_view) const override { return false; }
  void request(const std::string&, std::function<void()>) override {}
  std::chrono::seconds timeout() const override { return std::chrono::seconds(5); }
  bool alertOnRefusal() const override { return false; }
};

TEST_F(CertDirectoryRouteTest, TheDirectoryIsAskedBeforeAnAcmeOrderOnDemand) {
  snapshot_.managedCerts = std::make_shared<tls::ManagedCertStore>(params_);
  snapshot_.managedCerts->setOnDemand(std::make_shared<OrderingGate>());
  waitFor("new.test");
  in_.directoryAnswered = true;  // no file: now the ACME client may order one
  RouteDecision d = decideFor("new.test");
  ASSERT_TRUE(std::holds_alternative<AwaitCertificate>(d)) << "decision index " << d.index();
  EXPECT_EQ(std::get<AwaitCertificate>(d).source, OnDemandSource::kAcme);
  // A name the directory has is served without an order.
  in_.directoryAnswered = false;
  waitFor("d.test");
  in_.directoryAnswered = true;
  EXPECT_TRUE(terminate("d.test").managed);
}

}  // namespace
}  // namespace tlsgate::proxy
