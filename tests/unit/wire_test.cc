// The server path from the first byte to the first answer, over a socketpair, with the
// client's bytes cut every way a network may cut them (see wire_harness.h). The regression
// for the Debian 13 stall: with OpenSSL 3.2+ a request sent right behind the client's
// Finished stays in the handshake buffer after the handshake, where neither the socket's
// readiness nor SSL_has_pending() sees it.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buffer_pool.h"
#include "proxy/inspect.h"
#include "proxy/relay.h"
#include "proxy/stream.h"
#include "test_pki.h"
#include "tls/groups.h"
#include "tls/session_info.h"
#include "wire_harness.h"

namespace tlsgate::testing {
namespace {

using proxy::Progress;

const std::string kRequest = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";

class WireTest : public ::testing::TestWithParam<Split> {
 protected:
  static void SetUpTestSuite() {
    pki_ = new TestPki();
    cert_ = pki_->issue("a", "a.test", {"a.test"});
  }
  static void TearDownTestSuite() { delete pki_; }

  void SetUp() override {
    std::vector<tls::CertSpec> entries(1);
    entries[0].line = 1;
    entries[0].certFiles = {cert_.certFile};
    entries[0].keyFiles = {cert_.keyFile};
    entries[0].destIp = tls::DestIp{true, {}, false};
    params_.alpnWire = tls::alpnToWire({"http/1.1"});
    params_.groups = tls::defaultGroups().server;
    auto store = tls::CertStore::build(entries, "ssl_multicert.config", params_);
    ASSERT_TRUE(store.ok()) << store.error().toString();
    store_ = std::move(store.value());
  }

  static inline TestPki* pki_ = nullptr;
  static inline TestCert cert_;
  tls::ServerParams params_;
  std::unique_ptr<tls::CertStore> store_;
};

TEST_P(WireTest, HandshakeEndsWithOpenSslOutOfInit) {
  WireHarness wire(*store_, params_, GetParam(), "a.test");
  ASSERT_TRUE(wire.handshake());
  EXPECT_TRUE(SSL_is_init_finished(wire.serverSsl()));
}

// The inspect endpoint answers a request that arrived with the client's Finished.
TEST_P(WireTest, InspectAnswersTheRequestSentBehindFinished) {
  WireHarness wire(*store_, params_, GetParam(), "a.test");
  ASSERT_TRUE(wire.handshake(kRequest));
  proxy::InspectResponder responder(wire.serverSsl(), wire.serverIo(), "{}\n", wire.counters());
  std::string answer = wire.exchange([&] { return responder.pump() == Progress::kWaiting; }, 1);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << "answer: '" << answer << "'";
  // Keep-alive: a second request on the established connection is answered too.
  wire.clientWrite(kRequest);
  answer = wire.exchange([&] { return responder.pump() == Progress::kWaiting; }, 1);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << "answer: '" << answer << "'";
}

// The relay carries the same request to the upstream, and the upstream's answer back.
TEST_P(WireTest, RelayCarriesTheRequestSentBehindFinished) {
  WireHarness wire(*store_, params_, GetParam(), "a.test");
  ASSERT_TRUE(wire.handshake(kRequest));
  int up[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, up), 0);
  net::Readiness upIo;
  upIo.fd = up[0];
  BufferPool pool;
  proxy::TlsStream client(wire.serverSsl(), wire.serverIo());
  proxy::PlainStream upstream(upIo);
  proxy::Relay relay(client, upstream, pool, wire.counters());
  std::string atUpstream;
  const std::string response = "HTTP/1.1 204 No Content\r\n\r\n";
  auto pump = [&] {
    Progress p = relay.pump();
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::recv(up[1], buf, sizeof buf, 0)) > 0) atUpstream.append(buf, n);
    if (atUpstream == kRequest) {
      ::send(up[1], response.data(), response.size(), 0);
      atUpstream += "(answered)";
      upIo.update(EPOLLIN);
      p = relay.pump();
    }
    return p == Progress::kWaiting;
  };
  std::string answer = wire.exchange(pump, response.size());
  EXPECT_EQ(atUpstream, kRequest + "(answered)");
  EXPECT_EQ(answer, response);
  ::close(up[0]);
  ::close(up[1]);
}

INSTANTIATE_TEST_SUITE_P(Splits, WireTest,
                         ::testing::Values(Split::kWhole, Split::kRecords, Split::kRecordHalf,
                                           Split::kOneByte),
                         [](const auto& p) { return std::string(toString(p.param)); });

// The key exchange a client gets from the default groups, and whether it costs a
// HelloRetryRequest (counted, and reported by the driver).
class WireGroupsTest : public WireTest {
 protected:
  // Handshakes with a client offering `groups` (its first group gets the only key share
  // unless '*' marks others); returns the negotiated group.
  std::string negotiate(const std::string& groups, bool expectRetry) {
    WireHarness wire(*store_, params_, Split::kWhole, "a.test", groups);
    EXPECT_TRUE(wire.handshake());
    EXPECT_EQ(wire.server().helloRetried(), expectRetry) << groups;
    EXPECT_EQ(wire.counters().get(stats::Counter::kSslHelloRetryRequest), expectRetry ? 1u : 0u)
        << groups;
    return wire.serverSsl() ? tls::negotiatedGroup(wire.serverSsl()) : "";
  }
};

TEST_F(WireGroupsTest, AnX25519KeyShareNeedsNoRetry) {
  EXPECT_EQ(negotiate("X25519:P-256", false), "x25519");
}

TEST_F(WireGroupsTest, AP256KeyShareFromAClientThatHasX25519) {
  // With group tuples (OpenSSL 3.5) X25519's tuple comes first: the client is asked again.
  // OpenSSL 3.0 takes any key share it supports.
  if (tls::defaultGroups().postQuantum)
    EXPECT_EQ(negotiate("P-256:X25519", true), "x25519");
  else
    EXPECT_EQ(negotiate("P-256:X25519", false), "secp256r1");
}

TEST_F(WireGroupsTest, AKeyShareTheServerDoesNotTakeIsAskedAgain) {
  EXPECT_EQ(negotiate("P-521:P-256", true), "secp256r1");
}

TEST_F(WireGroupsTest, AP256OnlyClientGetsP256AtOnce) {
  EXPECT_EQ(negotiate("P-256", false), "secp256r1");
}

TEST_F(WireGroupsTest, PostQuantumWhereTheLibraryHasIt) {
  if (!tls::defaultGroups().postQuantum) {
    // Without ML-KEM the default leaves it out, and a client offering it alone cannot even
    // be configured: the library does not know the group.
    EXPECT_EQ(tls::defaultGroups().server.find("MLKEM"), std::string::npos);
    EXPECT_THROW(WireHarness(*store_, params_, Split::kWhole, "a.test", "X25519MLKEM768"),
                 std::runtime_error);
    return;
  }
  EXPECT_EQ(negotiate("X25519MLKEM768", false), "x25519mlkem768");
  // Both shares offered, as browsers do: ML-KEM wins with no retry.
  EXPECT_EQ(negotiate("*X25519MLKEM768:*X25519", false), "x25519mlkem768");
  // Only an X25519 share although ML-KEM is supported: X25519, still no retry.
  EXPECT_EQ(negotiate("X25519:X25519MLKEM768", false), "x25519");
}

TEST(WireCut, RecordsAndHalvesFollowTheRecordHeaders) {
  // Two records: 3 and 2 bytes of body.
  std::string bytes = std::string("\x17\x03\x03\x00\x03", 5) + "abc" +
                      std::string("\x17\x03\x03\x00\x02", 5) + "de";
  EXPECT_EQ(cut(bytes, Split::kRecords).size(), 2u);
  auto halves = cut(bytes, Split::kRecordHalf);
  ASSERT_EQ(halves.size(), 6u);
  EXPECT_EQ(halves[1], "a");
  EXPECT_EQ(halves[2], "bc");
  EXPECT_EQ(cut(bytes, Split::kOneByte).size(), bytes.size());
  EXPECT_EQ(cut(bytes, Split::kWhole).size(), 1u);
}

}  // namespace
}  // namespace tlsgate::testing
