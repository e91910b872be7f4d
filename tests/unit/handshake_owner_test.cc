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

// The facts are what the client sent, in its order: read once at the ClientHello.
TEST_F(HandshakeOwnerTest, TheOwnerGetsTheClientHelloFacts) {
  connect("a.test");
  SSL_set_min_proto_version(client_.get(), TLS1_2_VERSION);
  SSL_set_max_proto_version(client_.get(), TLS1_3_VERSION);
  ASSERT_EQ(SSL_set1_groups_list(client_.get(), "P-256:X25519:P-384"), 1);
  ASSERT_EQ(SSL_set_ciphersuites(client_.get(), "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"),
            1);
  ASSERT_EQ(SSL_set_cipher_list(client_.get(), "ECDHE-ECDSA-AES128-GCM-SHA256"), 1);
  const unsigned char alpn[] = "\x02h2\x08http/1.1";
  ASSERT_EQ(SSL_set_alpn_protos(client_.get(), alpn, sizeof alpn - 1), 0);
  run();
  ASSERT_EQ(server_->state(), HandshakeState::kDone);
  const ClientHelloFacts& f = owner_.seen;
  EXPECT_EQ(f.sni, "a.test");
  EXPECT_EQ(f.alpn, std::string("\x02h2\x08http/1.1"));
  EXPECT_EQ(std::vector<uint16_t>(f.versions.begin(), f.versions.end()),
            (std::vector<uint16_t>{0x0304, 0x0303}));
  EXPECT_EQ(std::vector<uint16_t>(f.groups.begin(), f.groups.end()),
            (std::vector<uint16_t>{23, 29, 24}));  // P-256, X25519, P-384
  EXPECT_EQ(f.keyShares.count, 1u);
  EXPECT_EQ(f.keyShares.ids[0], 23) << "the first group's share";
  // TLS 1.3 suites first, then the TLS 1.2 one. OpenSSL 3.0 then adds the renegotiation
  // SCSV (0x00ff), OpenSSL 3.5 does not: that one value may follow, nothing else.
  std::vector<uint16_t> ciphers(f.ciphers.begin(), f.ciphers.end());
  if (ciphers.size() == 4 && ciphers.back() == 0x00ff) ciphers.pop_back();
  EXPECT_EQ(ciphers, (std::vector<uint16_t>{0x1302, 0x1301, 0xc02b}));
  EXPECT_EQ(f.ciphers.total, f.ciphers.count);
}

// A list longer than the inline capacity keeps its first values and says how many there were.
TEST(U16ListTest, ALongListIsCutAndCounted) {
  U16List<2> list;
  for (uint16_t id : {1, 2, 3}) list.push(id);
  EXPECT_EQ(list.count, 2u);
  EXPECT_EQ(list.total, 3u);
  EXPECT_EQ(std::vector<uint16_t>(list.begin(), list.end()), (std::vector<uint16_t>{1, 2}));
}

}  // namespace
}  // namespace tlsgate::tls
