// The handshake driver and its owner (tls/handshake_owner.h): asked once at the ClientHello,
// with its facts, before any certificate work; its answer serves, stops or refuses, and its
// per-name settings apply before the version is negotiated.
#include <gtest/gtest.h>

#include "handshake_fixture.h"

namespace tlsgate::tls {
namespace {

class HandshakeOwnerTest : public HandshakeFixture {
 protected:
  void SetUp() override { buildStore(/*withDefault=*/true); }
};

TEST_F(HandshakeOwnerTest, ServeCompletesAndSeesTheLowercasedSni) {
  connect("A.Test");
  run();
  EXPECT_EQ(server_->state(), HandshakeState::kDone);
  EXPECT_EQ(owner_.seenSni, "a.test");
  EXPECT_EQ(owner_.calls, 1);
  EXPECT_EQ(server_->selected()->line, 1);
}

TEST_F(HandshakeOwnerTest, RefuseFailsWithTheAlertAndCounts) {
  ServeChoice refuse;
  refuse.kind = ServeChoice::Kind::kRefuse;
  refuse.alert = SSL_AD_ACCESS_DENIED;
  refuse.error = HandshakeError::kDenied;
  refuse.reason = "refused by sni.yaml line 3 ip_allow";
  owner_.script = refuse;
  connect("a.test");
  run();
  EXPECT_EQ(server_->state(), HandshakeState::kFailed);
  EXPECT_EQ(server_->error(), HandshakeError::kDenied);
  EXPECT_EQ(counters_.get(stats::Counter::kSniIpAllowDenied), 1u);
  EXPECT_EQ(server_->selected(), nullptr) << "no certificate work for a refused client";
  EXPECT_FALSE(SSL_is_init_finished(client_.get()));
  EXPECT_NE(SSL_do_handshake(client_.get()), 1);
  EXPECT_EQ(ERR_GET_REASON(ERR_peek_last_error()), SSL_R_TLSV1_ALERT_ACCESS_DENIED);
  ERR_clear_error();
}

TEST_F(HandshakeOwnerTest, StopAtClientHelloBeforeAnyCertificateWork) {
  ServeChoice stop;
  stop.kind = ServeChoice::Kind::kStop;
  owner_.script = stop;
  connect("a.test");
  run();
  EXPECT_EQ(server_->state(), HandshakeState::kStopped);
  EXPECT_EQ(server_->stopCause(), StopCause::kOwner);
  EXPECT_EQ(server_->selected(), nullptr) << "a tunnel is decided before any certificate work";
  // Nothing was sent to the client after its ClientHello: the tunnel's destination answers.
  EXPECT_EQ(SSL_do_handshake(client_.get()), -1);
  EXPECT_EQ(SSL_get_error(client_.get(), -1), SSL_ERROR_WANT_READ);
}

TEST_F(HandshakeOwnerTest, VersionBoundOfTheNameRefusesTls12) {
  owner_.settings.minVersion = TlsVersion::kTls13;
  connect("a.test");
  SSL_set_max_proto_version(client_.get(), TLS1_2_VERSION);
  run();
  EXPECT_EQ(server_->state(), HandshakeState::kFailed);
  EXPECT_EQ(server_->error(), HandshakeError::kSsl);
  ERR_clear_error();
}

TEST_F(HandshakeOwnerTest, OneByteAtATimeAsksTheOwnerOnce) {
  connect("a.test", /*bufSize=*/1);
  run();
  EXPECT_EQ(server_->state(), HandshakeState::kDone);
  EXPECT_EQ(owner_.calls, 1);
}

TEST_F(HandshakeOwnerTest, AHelloRetryAsksTheOwnerOnce) {
  connect("a.test");
  SSL_set1_groups_list(client_.get(), "P-521:P-256");  // a share the server does not take
  run();
  EXPECT_EQ(server_->state(), HandshakeState::kDone);
  EXPECT_TRUE(server_->helloRetried());
  EXPECT_EQ(owner_.calls, 1);
}

}  // namespace
}  // namespace tlsgate::tls
