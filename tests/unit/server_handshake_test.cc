// S1–S4, S6, S8, S11, S14: the server handshake driver over in-memory BIO pairs.
#include "tls/server_handshake.h"

#include <gtest/gtest.h>

#include <set>

#include "handshake_fixture.h"
#include "test_pki.h"
#include "tls/session_info.h"

namespace tlsgate::tls {
namespace {

using stats::Counter;
using testing::KeyKind;
using testing::TestPki;

using ServerHandshakeTest = HandshakeFixture;

TEST_F(ServerHandshakeTest, S11SniSelectsItsCertificate) {
  buildStore(true);
  connect("a.test");
  run();
  ASSERT_EQ(server_->state(), HandshakeState::kDone);
  EXPECT_EQ(server_->selected()->line, 1);
  EXPECT_EQ(counters_.get(Counter::kSslSuccessHandshakeIn), 1u);
  EXPECT_EQ(counters_.get(Counter::kSslHandshakeAttemptsIn), 1u);
  auto ssl = server_->takeSsl();
  EXPECT_EQ(describeSession(ssl.get()).certSubject, "CN=a.test");
}

TEST_F(ServerHandshakeTest, S11UnknownSniGetsTheDefault) {
  buildStore(true);
  connect("unknown.test");
  run();
  ASSERT_EQ(server_->state(), HandshakeState::kDone);
  EXPECT_EQ(server_->selected()->line, 2);
}

TEST_F(ServerHandshakeTest, S11NoDefaultFailsWithAnAlert) {
  buildStore(false);
  connect("unknown.test");
  run();
  EXPECT_EQ(server_->state(), HandshakeState::kFailed);
  EXPECT_EQ(server_->error(), HandshakeError::kNoCertificate);
  EXPECT_EQ(counters_.get(Counter::kSslNoCertificate), 1u);
  EXPECT_EQ(counters_.get(Counter::kSslSuccessHandshakeIn), 0u);
  // The client was told with an alert, not left waiting.
  EXPECT_NE(SSL_do_handshake(client_.get()), 1);
  EXPECT_EQ(SSL_get_error(client_.get(), -1), SSL_ERROR_SSL);
}

TEST_F(ServerHandshakeTest, S3S8OneByteAtATimeReachesEverySuspensionPoint) {
  buildStore(true);
  connect("a.test", 1);
  std::set<HandshakeWait> waits;
  run(&waits);
  ASSERT_EQ(server_->state(), HandshakeState::kDone);
  EXPECT_TRUE(waits.count(HandshakeWait::kRead));
  EXPECT_TRUE(waits.count(HandshakeWait::kWrite));
  EXPECT_GT(counters_.get(Counter::kSslErrorWantRead), 100u);
  EXPECT_GT(counters_.get(Counter::kSslErrorWantWrite), 0u);
}

TEST_F(ServerHandshakeTest, S14AlpnUsesServerPreference) {
  buildStore(true);
  connect("a.test", 0, "http/1.1");
  run();
  ASSERT_EQ(server_->state(), HandshakeState::kDone);
  auto ssl = server_->takeSsl();
  EXPECT_EQ(describeSession(ssl.get()).alpn, "http/1.1");
}

TEST_F(ServerHandshakeTest, S14NoCommonAlpnStillCompletesWithoutAlpn) {
  buildStore(true);
  connect("a.test", 0, "spdy/3");
  run();
  ASSERT_EQ(server_->state(), HandshakeState::kDone);
  auto ssl = server_->takeSsl();
  EXPECT_EQ(describeSession(ssl.get()).alpn, "");
}

TEST_F(ServerHandshakeTest, S1TimeoutFailsAndCounts) {
  buildStore(true);
  connect("a.test");
  EXPECT_EQ(server_->advance(), HandshakeWait::kRead);  // nothing sent yet
  server_->timeout();
  EXPECT_EQ(server_->state(), HandshakeState::kFailed);
  EXPECT_EQ(server_->error(), HandshakeError::kTimeout);
  EXPECT_EQ(counters_.get(Counter::kSslHandshakeTimeout), 1u);
  EXPECT_EQ(server_->advance(), HandshakeWait::kNone);  // stays failed
}

TEST_F(ServerHandshakeTest, S8EofMidHandshakeIsCountedAsEof) {
  buildStore(true);
  connect("a.test");
  // A client writes its ClientHello into memory; only half of it reaches the server
  // before the connection's write side closes.
  ossl::UniquePtr<SSL> hello(SSL_new(clientCtx_.get()));
  BIO* helloOut = BIO_new(BIO_s_mem());
  SSL_set_bio(hello.get(), BIO_new(BIO_s_mem()), helloOut);
  SSL_set_tlsext_host_name(hello.get(), "a.test");
  SSL_set_connect_state(hello.get());
  SSL_do_handshake(hello.get());
  char bytes[4096];
  int n = BIO_read(helloOut, bytes, sizeof bytes);
  ASSERT_GT(n, 10);
  BIO* serverBio = nullptr;
  BIO* clientBio = nullptr;
  ASSERT_EQ(BIO_new_bio_pair(&serverBio, 0, &clientBio, 0), 1);
  ossl::UniquePtr<BIO> clientSide(clientBio);
  BIO_write(clientBio, bytes, n / 2);
  BIO_shutdown_wr(clientBio);
  server_ = std::make_unique<ServerHandshake>(*store_, params_, ossl::UniquePtr<BIO>(serverBio),
                                              local_, peer_, counters_, owner_);
  server_->advance();
  EXPECT_EQ(server_->state(), HandshakeState::kFailed);
  EXPECT_EQ(server_->error(), HandshakeError::kEof);
  EXPECT_EQ(counters_.get(Counter::kSslHandshakeEof), 1u);
}

TEST_F(ServerHandshakeTest, S4PlaintextIsAnSslError) {
  buildStore(true);
  BIO* serverBio = nullptr;
  BIO* clientBio = nullptr;
  ASSERT_EQ(BIO_new_bio_pair(&serverBio, 0, &clientBio, 0), 1);
  ossl::UniquePtr<BIO> clientSide(clientBio);
  const char request[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  BIO_write(clientBio, request, sizeof request - 1);
  server_ = std::make_unique<ServerHandshake>(*store_, params_, ossl::UniquePtr<BIO>(serverBio),
                                              local_, peer_, counters_, owner_);
  server_->advance();
  EXPECT_EQ(server_->state(), HandshakeState::kFailed);
  EXPECT_EQ(server_->error(), HandshakeError::kSsl);
  EXPECT_EQ(counters_.get(Counter::kSslErrorSsl), 1u);
  EXPECT_FALSE(server_->reason().empty());
}

}  // namespace
}  // namespace tlsgate::tls
