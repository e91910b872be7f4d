// The handshake driver and the routing policy (sni.yaml): decisions at the ClientHello
// (deny, tunnel, protocol bounds) and after the certificate selection (S11's
// action=tunnel), each taken once even when OpenSSL re-enters its callback.
#include <gtest/gtest.h>

#include "handshake_fixture.h"

namespace tlsgate::tls {
namespace {

// A policy whose answers are set by the test, recording what it was asked.
class ScriptedPolicy final : public HandshakePolicy {
 public:
  PolicyVerdict onClientHello(SSL* ssl, std::string_view sni) override {
    ++clientHellos;
    seenSni = std::string(sni);
    if (minVersion) SSL_set_min_proto_version(ssl, minVersion);
    return atClientHello;
  }
  PolicyVerdict onCertificateSelected(SSL*, bool tunnelEntry) override {
    ++certificates;
    sawTunnelEntry = tunnelEntry;
    return atCertificate;
  }

  PolicyVerdict atClientHello;
  PolicyVerdict atCertificate;
  int minVersion = 0;
  int clientHellos = 0;
  int certificates = 0;
  std::string seenSni;
  bool sawTunnelEntry = false;
};

class HandshakePolicyTest : public HandshakeFixture {
 protected:
  void SetUp() override {
    buildStore(/*withDefault=*/true);
    policy_ = &policy;
  }
  ScriptedPolicy policy;
};

TEST_F(HandshakePolicyTest, ContinueCompletesAndSeesTheLowercasedSni) {
  connect("A.Test");
  run();
  EXPECT_EQ(server_->state(), HandshakeState::kDone);
  EXPECT_EQ(policy.seenSni, "a.test");
  EXPECT_EQ(policy.clientHellos, 1);
  EXPECT_EQ(policy.certificates, 1);
  EXPECT_FALSE(policy.sawTunnelEntry);
}

TEST_F(HandshakePolicyTest, DenyFailsWithTheAlertAndCounts) {
  policy.atClientHello = {PolicyVerdict::kDeny, SSL_AD_ACCESS_DENIED, {}};
  connect("a.test");
  run();
  EXPECT_EQ(server_->state(), HandshakeState::kFailed);
  EXPECT_EQ(server_->error(), HandshakeError::kDenied);
  EXPECT_EQ(counters_.get(stats::Counter::kSniIpAllowDenied), 1u);
  EXPECT_EQ(policy.certificates, 0) << "no certificate work for a refused client";
  EXPECT_FALSE(SSL_is_init_finished(client_.get()));
  ERR_clear_error();
}

TEST_F(HandshakePolicyTest, TunnelAtClientHelloCarriesTheDestination) {
  policy.atClientHello = {PolicyVerdict::kTunnel, 0, "10.0.0.5:443"};
  connect("a.test");
  run();
  EXPECT_EQ(server_->state(), HandshakeState::kTunnel);
  EXPECT_EQ(server_->tunnelDestination(), "10.0.0.5:443");
  EXPECT_EQ(policy.certificates, 0) << "a tunnel is decided before any certificate work";
}

TEST_F(HandshakePolicyTest, TunnelAfterCertificateSelection) {
  policy.atCertificate = {PolicyVerdict::kTunnel, 0, ""};
  connect("a.test");
  run();
  EXPECT_EQ(server_->state(), HandshakeState::kTunnel);
  EXPECT_EQ(server_->tunnelDestination(), "") << "the original destination";
}

TEST_F(HandshakePolicyTest, VersionBoundSetAtClientHelloRefusesTls12) {
  policy.minVersion = TLS1_3_VERSION;
  connect("a.test");
  SSL_set_max_proto_version(client_.get(), TLS1_2_VERSION);
  run();
  EXPECT_EQ(server_->state(), HandshakeState::kFailed);
  EXPECT_EQ(server_->error(), HandshakeError::kSsl);
  ERR_clear_error();
}

TEST_F(HandshakePolicyTest, OneByteAtATimeAsksThePolicyOnce) {
  connect("a.test", /*bufSize=*/1);
  run();
  EXPECT_EQ(server_->state(), HandshakeState::kDone);
  EXPECT_EQ(policy.clientHellos, 1);
  EXPECT_EQ(policy.certificates, 1);
}

}  // namespace
}  // namespace tlsgate::tls
