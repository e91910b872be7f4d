// libFuzzer target for the server side of the TLS handshake as production runs it: the
// socket BIO over a socketpair, the handshake buffer (S8), ServerHandshake with its
// ClientHello callback (the ClientHello's facts read before OpenSSL parses it), certificate
// selection (S11), ALPN (S14), session ticket keys, and hooks that pause (S7, S10).
//
// Input: six plan bytes, then the bytes the client sends.
//   [0..3]  the hooks of VCONN_START, CLIENT_HELLO, CERT, VERIFY_CLIENT: bits 0-2 the
//           verdict (0 continue, 1 error, 2 terminate, 3 tunnel, else continue), bits 3-5
//           how many times the hook holds the connection first (each turn is completed
//           after the next delivery, or at once when nothing is left), bit 7: no hook there
//   [4]     the owner's answer at the ClientHello: bits 0-1 serve (0, 1), stop (2), refuse
//           (3); bit 2 max TLS 1.2 for the name; bit 3 no tickets; bit 4 ask for a client
//           certificate; bit 5 the client closes its side after its last byte
//   [5]     how the client's bytes are cut: 0 whole, 1 one byte at a time, else pieces of
//           1..[5] bytes in a pseudo-random pattern seeded by [5]
//
// Each delivery writes one piece into the socket and raises the read edge epoll would
// raise; the server is driven as ClientConnection drives it (only when readiness can move
// it). What the driver promises, checked after every step and at the end:
//   - a wait for read leaves no byte in the socket (else no edge would ever wake it);
//   - stopped (tunnel): what the handshake buffer recorded, then what is still in the
//     socket, is exactly what the client sent (the replay loses and invents nothing, S10);
//   - failed: says how (one HandshakeError); the owner was asked at most once;
//   - the ClientHello's facts: a lowercase SNI, an ALPN list as the client sent it;
//   - an ALPN protocol chosen is one of ours that the client offered.
// The PKI is made at start-up, in memory and a temporary folder removed at once.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cstddef>
#include <cstdint>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "test_pki.h"
#include "tls/cert_store.h"
#include "tls/client_verification.h"
#include "tls/server_handshake.h"
#include "tls/socket_bio.h"
#include "tls/ticket_keys.h"

namespace tls = tlsgate::tls;
using tls::HandshakeState;
using tls::HandshakeWait;
using tls::HookPoint;
using tls::HookVerdict;

namespace {

constexpr size_t kPlanBytes = 6;

// What the fuzzer's gateway serves: a.test, a default entry without tickets, ALPN h2 and
// http/1.1, a ticket key ring, and a CA for client certificates.
struct Gateway {
  tls::ServerParams params;
  std::unique_ptr<tls::TicketKeyStore> ticketKeys;
  std::unique_ptr<tls::CertStore> store;
  std::unique_ptr<tls::ClientVerification> verify;
};

std::shared_ptr<const tls::TicketKeyRing> fixedTicketKeys() {
  auto ring = std::make_shared<tls::TicketKeyRing>();
  ring->keys.resize(2);
  const std::string_view names[] = {"tlsgate-fuzz-k01", "tlsgate-fuzz-k02"};
  for (size_t i = 0; i < 2; ++i) {
    std::copy(names[i].begin(), names[i].end(), ring->keys[i].name.begin());
    ring->keys[i].hmacSecret.fill(static_cast<unsigned char>(0x11 * (i + 1)));
    ring->keys[i].aesKey.fill(static_cast<unsigned char>(0x22 * (i + 1)));
  }
  return ring;
}

Gateway* makeGateway() {
  auto* g = new Gateway;
  tlsgate::testing::TestPki pki;  // its folder goes at the end of this function
  const auto a = pki.issue("a", "a.test", {"a.test", "*.wild.test"});
  // ECDSA both: a full ClientHello costs a signature, and an RSA one would take most of
  // the fuzzer's time (RSA selection has its unit and end-to-end tests).
  const auto def = pki.issue("default", "default.test", {});
  std::vector<tls::CertSpec> entries(2);
  entries[0].line = 1;
  entries[0].certFiles = {a.certFile};
  entries[0].keyFiles = {a.keyFile};
  entries[1].line = 2;
  entries[1].certFiles = {def.certFile};
  entries[1].keyFiles = {def.keyFile};
  entries[1].destIp = tls::DestIp{true, {}, false};
  entries[1].ticketEnabled = false;
  g->params.alpnWire = tls::alpnToWire({"h2", "http/1.1"});
  g->ticketKeys = std::make_unique<tls::TicketKeyStore>(fixedTicketKeys());
  g->params.ticketKeys = g->ticketKeys.get();
  g->params.sessionCache = true;
  auto store = tls::CertStore::build(entries, "ssl_multicert.config", g->params);
  FUZZ_CHECK(store.ok());
  g->store = std::move(*store);
  auto verify = tls::ClientVerification::load(SSL_VERIFY_PEER, pki.caFile());
  FUZZ_CHECK(verify.ok());
  g->verify = std::move(*verify);
  return g;
}

// The hooks of one connection, as the plan bytes script them.
class ScriptedHooks final : public tls::HandshakeHooks {
 public:
  explicit ScriptedHooks(const uint8_t* plans) {
    for (size_t i = 0; i < plans_.size(); ++i) {
      present_[i] = (plans[i] & 0x80) == 0;
      holds_[i] = (plans[i] >> 3) & 7;
      switch (plans[i] & 7) {
        case 1:
          plans_[i] = HookVerdict::kError;
          break;
        case 2:
          plans_[i] = HookVerdict::kTerminate;
          break;
        case 3:
          plans_[i] = HookVerdict::kTunnel;
          break;
        default:
          plans_[i] = HookVerdict::kContinue;
      }
    }
  }

  HookVerdict run(HookPoint point) override {
    const auto i = static_cast<size_t>(point);
    FUZZ_CHECK(i < plans_.size());
    if (!present_[i]) return HookVerdict::kContinue;
    if (holds_[i] > 0) {
      held_ = i;
      return HookVerdict::kPending;
    }
    return plans_[i];
  }
  // The hook that holds the connection completes its turn.
  void completeTurn() {
    if (held_ < holds_.size()) --holds_[held_];
    held_ = kNone;
  }
  void sessionCreated(SSL* ssl) override { ssl_ = ssl; }
  void applyCertificateOverride(SSL* ssl) override { FUZZ_CHECK(ssl == ssl_); }
  void clientHelloRead(const tls::ClientHelloFacts& hello) override {
    FUZZ_CHECK(ssl_ != nullptr);
    FUZZ_CHECK(++hellos_ == 1);  // the facts of the first ClientHello, once
    FUZZ_CHECK(hello.versions.total > 0);
  }
  const std::string& tunnelDestination() const override { return destination_; }

 private:
  std::array<HookVerdict, 4> plans_{};
  std::array<bool, 4> present_{};
  std::array<int, 4> holds_{};
  static constexpr size_t kNone = 99;
  size_t held_ = kNone;  // the point whose hook holds the connection
  SSL* ssl_ = nullptr;
  int hellos_ = 0;
  std::string destination_;
};

// Whether `wire` is a well-formed ALPN list (length-prefixed names of 1..255 bytes).
bool wellFormedAlpn(std::string_view wire) {
  for (size_t i = 0; i < wire.size(); i += 1 + static_cast<unsigned char>(wire[i]))
    if (wire[i] == 0 || i + 1 + static_cast<unsigned char>(wire[i]) > wire.size()) return false;
  return true;
}

bool alpnListHas(std::string_view wire, std::string_view id) {
  for (size_t i = 0; i < wire.size(); i += 1 + static_cast<unsigned char>(wire[i]))
    if (wire.substr(i + 1, static_cast<unsigned char>(wire[i])) == id) return true;
  return false;
}

class Owner final : public tls::HandshakeOwner {
 public:
  Owner(const Gateway& g, uint8_t plan) : gateway_(g), plan_(plan) {}

  tls::ServeChoice onClientHello(tls::ClientHelloFacts hello) override {
    ++calls;
    for (char c : hello.sni) FUZZ_CHECK(!std::isupper(static_cast<unsigned char>(c)));
    if (wellFormedAlpn(hello.alpn)) alpnOffered = hello.alpn;
    tls::ServeChoice choice;
    switch (plan_ & 3) {
      case 2:
        choice.kind = tls::ServeChoice::Kind::kStop;
        return choice;
      case 3:
        choice.kind = tls::ServeChoice::Kind::kRefuse;
        choice.alert = SSL_AD_UNRECOGNIZED_NAME;
        choice.reason = "refused by the fuzzer's owner";
        return choice;
      default:
        break;
    }
    choice.entry = gateway_.store->select(hello.sni, local);
    FUZZ_CHECK(choice.entry != nullptr);  // there is a default entry
    if (plan_ & 4) choice.settings.maxVersion = tls::TlsVersion::kTls12;
    if (plan_ & 8) choice.settings.ticketEnabled = false;
    if (plan_ & 16) choice.settings.verify = gateway_.verify.get();
    return choice;
  }

  int calls = 0;
  std::string alpnOffered;
  tlsgate::net::Address local = *tlsgate::net::parseAddress("127.0.0.1:8443", true);

 private:
  const Gateway& gateway_;
  uint8_t plan_;
};

// The client's bytes, cut as plan byte [5] says.
std::vector<std::string_view> cut(std::string_view bytes, uint8_t plan) {
  std::vector<std::string_view> pieces;
  uint32_t state = plan * 2654435761u + 1;
  for (size_t pos = 0; pos < bytes.size();) {
    size_t n = bytes.size() - pos;
    if (plan == 1) {
      n = 1;
    } else if (plan > 1) {
      state = state * 1103515245u + 12345u;
      n = std::min<size_t>(n, 1 + (state >> 16) % plan);
    }
    pieces.push_back(bytes.substr(pos, n));
    pos += n;
  }
  return pieces;
}

}  // namespace

namespace {

// One connection: the server's end of a socketpair under the handshake driver, the
// client's end written by the fuzzer.
class Connection {
 public:
  Connection(const Gateway& g, const uint8_t* plan)
      : hooks_(plan), owner_(g, plan[4]), eofAfterLast_((plan[4] & 32) != 0) {
    FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sockets_) == 0);
    io_.fd = sockets_[0];
    io_.readable = false;  // nothing arrived yet
    io_.handshake = std::make_unique<tls::HandshakeBuffer>();
    server_ =
        std::make_unique<tls::ServerHandshake>(*g.store, g.params, tls::newSocketBio(&io_),
                                               owner_.local, peer_, counters_, owner_, &hooks_);
  }
  ~Connection() {
    server_.reset();
    ::close(sockets_[0]);
    ::close(sockets_[1]);
  }

  void run(const std::vector<std::string_view>& pieces);
  void checkOutcome() const;

 private:
  void step();
  void deliver(std::string_view piece);
  void drainServerOutput();
  size_t unreadInSocket() const {
    int n = 0;
    FUZZ_CHECK(::ioctl(sockets_[0], FIONREAD, &n) == 0);
    return static_cast<size_t>(n);
  }
  // ClientConnection's readyFor(): whether readiness can move the driver.
  bool ready() const {
    switch (wait_) {
      case HandshakeWait::kHook:
        return false;
      case HandshakeWait::kRead:
        return io_.mayRead();
      case HandshakeWait::kWrite:
        return io_.writable;
      case HandshakeWait::kNone:
        break;
    }
    return true;
  }

  ScriptedHooks hooks_;
  Owner owner_;
  bool eofAfterLast_;
  int sockets_[2] = {-1, -1};  // [0] the server's, [1] the client's
  tls::SocketIo io_;
  tlsgate::net::Address peer_ = *tlsgate::net::parseAddress("127.0.0.1:50000", true);
  tlsgate::stats::CounterBlock counters_;
  std::unique_ptr<tls::ServerHandshake> server_;
  HandshakeWait wait_ = HandshakeWait::kNone;
  std::string sent_;  // every byte the client sent
};

void Connection::step() {
  wait_ = server_->advance();
  drainServerOutput();
  if (wait_ == HandshakeWait::kRead && !io_.mayRead())
    FUZZ_CHECK(unreadInSocket() == 0);  // else no edge would ever wake it
  FUZZ_CHECK(server_->over() == (wait_ == HandshakeWait::kNone));
}

void Connection::deliver(std::string_view piece) {
  FUZZ_CHECK(::send(sockets_[1], piece.data(), piece.size(), MSG_NOSIGNAL) ==
             static_cast<ssize_t>(piece.size()));
  sent_.append(piece);
  io_.update(EPOLLIN);
}

void Connection::drainServerOutput() {
  char buf[16384];
  bool any = false;
  while (::recv(sockets_[1], buf, sizeof buf, 0) > 0) any = true;
  if (any) io_.update(EPOLLOUT);
}

void Connection::run(const std::vector<std::string_view>& pieces) {
  step();
  size_t next = 0;
  bool closed = false;
  // Each round delivers a piece, completes a hook's turn or closes the client's side: a
  // bounded number of rounds, whatever the driver does.
  for (size_t round = 0; round < pieces.size() + 64 && !server_->over(); ++round) {
    if (next < pieces.size()) {
      deliver(pieces[next++]);
    } else if (wait_ != HandshakeWait::kHook && eofAfterLast_ && !closed) {
      ::shutdown(sockets_[1], SHUT_WR);
      io_.update(EPOLLIN | EPOLLRDHUP);
      closed = true;
    } else if (wait_ != HandshakeWait::kHook) {
      return;  // waits for bytes that never come: the handshake clock ends it (S1)
    }
    if (wait_ == HandshakeWait::kHook && (next == pieces.size() || round % 2 == 0)) {
      hooks_.completeTurn();
      wait_ = HandshakeWait::kNone;  // the owner drives it again (onHookCompleted)
    }
    if (ready()) step();
  }
  FUZZ_CHECK(server_->over() || wait_ != HandshakeWait::kWrite);
}

void Connection::checkOutcome() const {
  FUZZ_CHECK(owner_.calls <= 1);
  switch (server_->state()) {
    case HandshakeState::kStopped: {
      // S10: the tunnel replays what the buffer recorded, then relays the socket.
      std::string replay(io_.handshake ? io_.handshake->received() : std::string_view());
      char buf[4096];
      ssize_t n = 0;
      while ((n = ::recv(sockets_[0], buf, sizeof buf, 0)) > 0) replay.append(buf, n);
      FUZZ_CHECK(replay == sent_);
      break;
    }
    case HandshakeState::kFailed:
      FUZZ_CHECK(server_->error() != tls::HandshakeError::kNone);
      break;
    default:
      break;
  }
  SSL* ssl = server_->ssl();
  const unsigned char* alpn = nullptr;
  unsigned alpnLen = 0;
  if (ssl) SSL_get0_alpn_selected(ssl, &alpn, &alpnLen);
  if (alpnLen > 0) {
    const std::string_view chosen(reinterpret_cast<const char*>(alpn), alpnLen);
    FUZZ_CHECK(owner_.calls == 1);
    FUZZ_CHECK(alpnListHas(owner_.alpnOffered, chosen));
    FUZZ_CHECK(chosen == "h2" || chosen == "http/1.1");  // ours
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t len) {
  static const Gateway* const gateway = makeGateway();
  if (len < kPlanBytes) return 0;
  const std::string_view client(reinterpret_cast<const char*>(data + kPlanBytes), len - kPlanBytes);
  Connection connection(*gateway, data);
  connection.run(cut(client, data[5]));
  connection.checkOutcome();
  ERR_clear_error();
  return 0;
}
