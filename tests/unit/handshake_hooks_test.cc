// S7, S10: the handshake driver's pause points — VCONN_START, CLIENT_HELLO, CERT — with a
// scripted HandshakeHooks, in sync, async (pending, then resumed), failing, tunnel and
// terminate modes, over in-memory BIO pairs.
#include <gtest/gtest.h>

#include <map>

#include "handshake_fixture.h"
#include "tls/server_context.h"
#include "tls/session_info.h"

namespace tlsgate::tls {
namespace {

using stats::Counter;

// Answers each point with a scripted verdict; kPending until release() is called.
class ScriptedHooks final : public HandshakeHooks {
 public:
  HookVerdict run(HookPoint point) override {
    ++calls[point];
    auto it = script.find(point);
    if (it == script.end()) return HookVerdict::kContinue;
    if (it->second == HookVerdict::kPending && released.count(point)) return HookVerdict::kContinue;
    return it->second;
  }
  void sessionCreated(SSL* s) override { ssl = s; }
  void clientHelloRead(const ClientHelloFacts& hello) override { sni = hello.sni; }
  const std::string& tunnelDestination() const override { return destination; }
  void applyCertificateOverride(SSL* s) override {
    if (override) SSL_set_SSL_CTX(s, override);
  }

  std::map<HookPoint, HookVerdict> script;
  std::map<HookPoint, int> calls;
  std::set<HookPoint> released;
  SSL* ssl = nullptr;
  SSL_CTX* override = nullptr;
  std::string destination;
  std::string sni;
};

class HandshakeHooksTest : public HandshakeFixture {
 protected:
  void SetUp() override {
    hooks_ = &scripted_;
    buildStore(true);
  }
  ScriptedHooks scripted_;
};

TEST_F(HandshakeHooksTest, S7PreAcceptHoldsBeforeAnySessionExists) {
  scripted_.script[HookPoint::kVconnStart] = HookVerdict::kPending;
  connect("a.test");
  EXPECT_EQ(run(), HandshakeWait::kHook);
  EXPECT_EQ(server_->state(), HandshakeState::kPreAccept);
  EXPECT_EQ(server_->ssl(), nullptr);      // nothing read, no SSL yet
  EXPECT_EQ(run(), HandshakeWait::kHook);  // readiness alone does not advance it
  scripted_.released.insert(HookPoint::kVconnStart);
  run();
  EXPECT_EQ(server_->state(), HandshakeState::kDone);
  EXPECT_NE(scripted_.ssl, nullptr);
}

TEST_F(HandshakeHooksTest, ClientHelloPauseResumesWhenReleased) {
  scripted_.script[HookPoint::kClientHello] = HookVerdict::kPending;
  connect("a.test");
  EXPECT_EQ(run(), HandshakeWait::kHook);
  EXPECT_EQ(server_->state(), HandshakeState::kAccept);
  scripted_.released.insert(HookPoint::kClientHello);
  run();
  EXPECT_EQ(server_->state(), HandshakeState::kDone);
  EXPECT_GE(scripted_.calls[HookPoint::kClientHello], 2);  // OpenSSL re-entered the callback
}

TEST_F(HandshakeHooksTest, S10CertPauseSelectsOnceAndResumes) {
  scripted_.script[HookPoint::kCert] = HookVerdict::kPending;
  connect("a.test");
  EXPECT_EQ(run(), HandshakeWait::kHook);
  const CertEntry* chosen = server_->selected();
  ASSERT_NE(chosen, nullptr);
  EXPECT_EQ(counters_.get(Counter::kSslErrorWantX509Lookup), 1u);
  scripted_.released.insert(HookPoint::kCert);
  run();
  EXPECT_EQ(server_->state(), HandshakeState::kDone);
  EXPECT_EQ(server_->selected(), chosen);
  EXPECT_EQ(scripted_.calls[HookPoint::kCert], 2);
}

TEST_F(HandshakeHooksTest, SyncHooksDoNotPause) {
  connect("a.test");
  std::set<HandshakeWait> waits;
  run(&waits);
  EXPECT_EQ(server_->state(), HandshakeState::kDone);
  EXPECT_FALSE(waits.count(HandshakeWait::kHook));
  EXPECT_EQ(scripted_.calls[HookPoint::kVconnStart], 1);
  EXPECT_EQ(scripted_.calls[HookPoint::kClientHello], 1);
  EXPECT_EQ(scripted_.calls[HookPoint::kCert], 1);
}

TEST_F(HandshakeHooksTest, CertErrorFailsWithAnAlert) {
  scripted_.script[HookPoint::kCert] = HookVerdict::kError;
  connect("a.test");
  run();
  EXPECT_EQ(server_->state(), HandshakeState::kFailed);
  EXPECT_EQ(server_->error(), HandshakeError::kHookError);
  EXPECT_EQ(counters_.get(Counter::kSslHookError), 1u);
  EXPECT_NE(SSL_do_handshake(client_.get()), 1);
  EXPECT_EQ(SSL_get_error(client_.get(), -1), SSL_ERROR_SSL);
}

TEST_F(HandshakeHooksTest, ClientHelloErrorSendsHandshakeFailure) {
  scripted_.script[HookPoint::kClientHello] = HookVerdict::kError;
  connect("a.test");
  run();
  EXPECT_EQ(server_->error(), HandshakeError::kHookError);
  EXPECT_NE(SSL_do_handshake(client_.get()), 1);
  unsigned long err = ERR_peek_last_error();
  EXPECT_EQ(ERR_GET_REASON(err), SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE) << ossl::drainErrors();
  ERR_clear_error();
}

TEST_F(HandshakeHooksTest, TunnelAtCertEndsTheHandshakeWithoutAnAlert) {
  scripted_.script[HookPoint::kCert] = HookVerdict::kTunnel;
  connect("a.test");
  run();
  EXPECT_EQ(server_->state(), HandshakeState::kStopped);
  EXPECT_EQ(server_->stopCause(), StopCause::kHookTunnel);
  EXPECT_EQ(counters_.get(Counter::kHookTunnels), 1u);
  EXPECT_EQ(counters_.get(Counter::kSslSuccessHandshakeIn), 0u);
  // Nothing was sent to the client after its ClientHello: it is still waiting.
  EXPECT_EQ(SSL_do_handshake(client_.get()), -1);
  EXPECT_EQ(SSL_get_error(client_.get(), -1), SSL_ERROR_WANT_READ);
}

TEST_F(HandshakeHooksTest, TerminateAtPreAccept) {
  scripted_.script[HookPoint::kVconnStart] = HookVerdict::kTerminate;
  connect("a.test");
  run();
  EXPECT_EQ(server_->state(), HandshakeState::kStopped);
  EXPECT_EQ(server_->stopCause(), StopCause::kHookTerminate);
  EXPECT_EQ(counters_.get(Counter::kHookTerminations), 1u);
  EXPECT_EQ(server_->ssl(), nullptr);
}

TEST_F(HandshakeHooksTest, CertOverrideIsServed) {
  auto other = pki_->issue("other", "other.test", {"other.test"});
  auto ctx = newServerContext(params_);
  ASSERT_TRUE(ctx.ok());
  SSL_CTX_use_certificate_file(ctx->get(), other.certFile.c_str(), SSL_FILETYPE_PEM);
  SSL_CTX_use_PrivateKey_file(ctx->get(), other.keyFile.c_str(), SSL_FILETYPE_PEM);
  scripted_.override = ctx->get();
  connect("a.test");
  run();
  ASSERT_EQ(server_->state(), HandshakeState::kDone);
  ossl::UniquePtr<X509> seen(SSL_get1_peer_certificate(client_.get()));
  ASSERT_TRUE(seen);
  char cn[64] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(seen.get()), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "other.test");
}

}  // namespace
}  // namespace tlsgate::tls
