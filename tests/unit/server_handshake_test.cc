// S1–S4, S6, S8, S11, S14: the server handshake driver over in-memory BIO pairs.
#include "tls/server_handshake.h"

#include <gtest/gtest.h>

#include <set>

#include "test_pki.h"
#include "tls/session_info.h"

namespace tlsgate::tls {
namespace {

using stats::Counter;
using testing::KeyKind;
using testing::TestPki;

class ServerHandshakeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new TestPki();
    a_ = pki_->issue("a", "a.test", {"a.test"});
    def_ = pki_->issue("default", "default.test", {});
  }
  static void TearDownTestSuite() { delete pki_; }

  void buildStore(bool withDefault) {
    std::vector<config::MulticertEntry> entries(1);
    entries[0].line = 1;
    entries[0].certFiles = {a_.certFile};
    entries[0].keyFiles = {a_.keyFile};
    if (withDefault) {
      config::MulticertEntry d;
      d.line = 2;
      d.certFiles = {def_.certFile};
      d.keyFiles = {def_.keyFile};
      d.destIp = config::DestIp{true, {}, false};
      entries.push_back(d);
    }
    params_.alpnWire = alpnToWire({"h2", "http/1.1"});
    auto store = CertStore::build(entries, "ssl_multicert.config", params_);
    ASSERT_TRUE(store.ok()) << store.error().toString();
    store_ = std::move(store.value());
  }

  // Wires a client SSL and a ServerHandshake through a BIO pair with `bufSize`-byte
  // buffers (1 = every suspension point is hit, one byte at a time).
  void connect(const char* sni, size_t bufSize = 0, const char* clientAlpn = nullptr) {
    BIO* serverBio = nullptr;
    BIO* clientBio = nullptr;
    ASSERT_EQ(BIO_new_bio_pair(&serverBio, bufSize, &clientBio, bufSize), 1);
    clientCtx_.reset(SSL_CTX_new(TLS_client_method()));
    client_.reset(SSL_new(clientCtx_.get()));
    if (sni) SSL_set_tlsext_host_name(client_.get(), sni);
    if (clientAlpn) {
      std::string wire = alpnToWire({clientAlpn});
      SSL_set_alpn_protos(client_.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                          wire.size());
    }
    SSL_set_bio(client_.get(), clientBio, clientBio);
    SSL_set_connect_state(client_.get());
    server_ = std::make_unique<ServerHandshake>(*store_, params_, ossl::UniquePtr<BIO>(serverBio),
                                                local_, peer_, counters_);
  }

  // Runs both sides until the server is done or failed (or no progress is possible).
  void run(std::set<HandshakeWait>* waits = nullptr) {
    for (int i = 0; i < 100000; ++i) {
      if (SSL_is_init_finished(client_.get())) {
        char byte;  // drain the TLS 1.3 session tickets the server sends at the end
        SSL_read(client_.get(), &byte, 1);
      } else {
        SSL_do_handshake(client_.get());
      }
      HandshakeWait w = server_->advance();
      if (waits) waits->insert(w);
      if (server_->state() == HandshakeState::kDone || server_->state() == HandshakeState::kFailed)
        return;
    }
    FAIL() << "handshake made no progress";
  }

  static TestPki* pki_;
  static testing::TestCert a_, def_;
  ServerParams params_;
  std::unique_ptr<CertStore> store_;
  net::Address local_ = *net::parseAddress("127.0.0.1:8443", true);
  net::Address peer_ = *net::parseAddress("127.0.0.1:50000", true);
  stats::CounterBlock counters_;
  ossl::UniquePtr<SSL_CTX> clientCtx_;
  ossl::UniquePtr<SSL> client_;
  std::unique_ptr<ServerHandshake> server_;
};
TestPki* ServerHandshakeTest::pki_ = nullptr;
testing::TestCert ServerHandshakeTest::a_, ServerHandshakeTest::def_;

TEST_F(ServerHandshakeTest, S11SniSelectsItsCertificate) {
  buildStore(true);
  connect("a.test");
  run();
  ASSERT_EQ(server_->state(), HandshakeState::kDone);
  EXPECT_EQ(server_->selected()->line, 1);
  EXPECT_EQ(counters_.get(Counter::kSslSuccessHandshakeIn), 1u);
  EXPECT_EQ(counters_.get(Counter::kSslHandshakeAttemptsIn), 1u);
  auto ssl = server_->takeSsl();
  EXPECT_EQ(describeSession(ssl.get(), *store_).certSubject, "CN=a.test");
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
  EXPECT_EQ(describeSession(ssl.get(), *store_).alpn, "http/1.1");
}

TEST_F(ServerHandshakeTest, S14NoCommonAlpnStillCompletesWithoutAlpn) {
  buildStore(true);
  connect("a.test", 0, "spdy/3");
  run();
  ASSERT_EQ(server_->state(), HandshakeState::kDone);
  auto ssl = server_->takeSsl();
  EXPECT_EQ(describeSession(ssl.get(), *store_).alpn, "");
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
                                              local_, peer_, counters_);
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
                                              local_, peer_, counters_);
  server_->advance();
  EXPECT_EQ(server_->state(), HandshakeState::kFailed);
  EXPECT_EQ(server_->error(), HandshakeError::kSsl);
  EXPECT_EQ(counters_.get(Counter::kSslErrorSsl), 1u);
  EXPECT_FALSE(server_->reason().empty());
}

}  // namespace
}  // namespace tlsgate::tls
