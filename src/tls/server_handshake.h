// ServerHandshake: the server side of the handshake driver (S1–S4, S6, S8, S11, S12, S14).
//
// One enum of states, one driver loop (STYLE rule 3): advance() runs the current step; a
// step moves the state only when it succeeds, otherwise advance() returns why it stopped
// (HandshakeWait). The owner re-enters advance() on read readiness, write readiness and
// timer expiry (S3); any of them may be the one that makes progress. The driver never
// blocks and never touches the socket itself: it works on whatever BIO it is given (the
// socket BIO in production, a memory BIO pair in unit tests).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "net/address.h"
#include "stats/counters.h"
#include "tls/cert_store.h"
#include "tls/client_hello.h"
#include "tls/handshake_hooks.h"
#include "tls/handshake_policy.h"
#include "tls/ossl.h"
#include "tls/server_params.h"

namespace tlsgate::tls {

enum class HandshakeState : uint8_t {
  kStart,          // S1: start the clock
  kPreAccept,      // S7: VCONN_START hooks, before any byte is read
  kCreateSession,  // S2, S6: the SSL, on the trampoline context
  kAccept,         // SSL_do_handshake; CLIENT_HELLO and CERT hooks and the certificate
                   // selection (S10, S11) run inside it
  kDone,           // S14: the SSL is ready for application data
  kTunnel,         // a hook or the routing asked for a blind tunnel (the owner replays
                   // what was read, S10)
  kTerminated,     // a hook asked to close the connection
  kFailed,
};

// Why advance() returned without finishing.
enum class HandshakeWait : uint8_t {
  kNone,   // done or failed: look at state()
  kRead,   // S4: wait for read readiness
  kWrite,  // S4: wait for write readiness
  kHook,   // S4: a callback paused the handshake (SSL_ERROR_WANT_X509_LOOKUP)
};

// S4: the classes of failure, each with its own counter.
enum class HandshakeError : uint8_t {
  kNone,
  kSessionCreate,      // S2: failed to create SSL server session
  kSsl,                // protocol error (bad record, alert received, no shared cipher...)
  kSyscall,            // socket error
  kZeroReturn,         // the peer sent close_notify during the handshake
  kEof,                // the peer closed the TCP connection mid-handshake (S8)
  kTimeout,            // S1
  kNoCertificate,      // S11: nothing matched and there is no default certificate
  kTooLarge,           // the client sent more than HandshakeBuffer::kMaxBytes
  kHookError,          // a hook re-enabled with error
  kClientCertificate,  // the client's certificate did not verify
  kDenied,             // the routing refused the client (sni.yaml ip_allow)
};

const char* toString(HandshakeState s);
const char* toString(HandshakeError e);

class ServerHandshake {
 public:
  // `peer` is used in log lines only. `bio` becomes the SSL's. `hooks` may be null (no
  // plugin registered any hook); `policy` may be null (no per-name routing).
  ServerHandshake(const CertStore& store, const ServerParams& params, ossl::UniquePtr<BIO> bio,
                  const net::Address& local, const net::Address& peer,
                  stats::CounterBlock& counters, HandshakeHooks* hooks = nullptr,
                  HandshakePolicy* policy = nullptr);
  ~ServerHandshake();
  ServerHandshake(const ServerHandshake&) = delete;
  ServerHandshake& operator=(const ServerHandshake&) = delete;

  HandshakeWait advance();

  // S1: the handshake clock ran out. The state becomes kFailed (kTimeout).
  void timeout();

  HandshakeState state() const { return state_; }
  HandshakeError error() const { return error_; }
  const std::string& reason() const { return reason_; }

  // After kDone: the established session, for the endpoint (S14).
  ossl::UniquePtr<SSL> takeSsl();
  SSL* ssl() const { return ssl_.get(); }
  // The certificate entry chosen (S11), once the certificate callback ran.
  const CertEntry* selected() const { return selected_; }
  // After kTunnel: where to ("" = the original destination, i.e. the local address).
  const std::string& tunnelDestination() const;
  std::chrono::microseconds elapsed() const;
  // Whether the client answered a HelloRetryRequest (its first key shares did not suit).
  bool helloRetried() const { return helloRetried_; }

  // Sets the callbacks every server context needs (certificate, ALPN, info). The
  // functions are trampolines to the ServerHandshake found in the SSL's ex_data.
  static void installCallbacks(SSL_CTX* ctx);
  // Requests client certificates (`mode`: SSL_VERIFY_PEER, optionally with
  // SSL_VERIFY_FAIL_IF_NO_PEER_CERT) and runs VERIFY_CLIENT hooks on the verified leaf.
  static void installClientVerification(SSL_CTX* ctx, int mode);
  // The same for one connection (per-name settings, sni.yaml verify_client).
  static void setClientVerification(SSL* ssl, int mode);
  // The counters of the worker that owns `ssl` (for OpenSSL callbacks); null if none.
  static stats::CounterBlock* countersOf(const SSL* ssl);

 private:
  HandshakeWait doStart();
  HandshakeWait doPreAccept();
  HandshakeWait doCreateSession();
  HandshakeWait doAccept();
  // Applies a hook's verdict that ends the handshake (tunnel, terminate, error).
  void endByHook(HookVerdict verdict);
  void fail(HandshakeError error, std::string reason);
  bool applyPolicy(PolicyVerdict verdict, int* alert);

  friend struct ServerCallbacks;
  int onClientHello(int* alert);
  void noteKeyShares();
  int onCertificate();
  // S11's choice for `sni` on this connection's destination.
  const CertEntry* choose(const std::string& sni);
  int onVerifyClient(int preverifyOk, X509_STORE_CTX* store);
  int onAlpnSelect(const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                   unsigned inlen);

  const CertStore& store_;
  const ServerParams& params_;
  ossl::UniquePtr<BIO> pendingBio_;  // until the SSL exists
  ossl::UniquePtr<SSL> ssl_;
  const net::Address& local_;
  const net::Address& peer_;
  stats::CounterBlock& counters_;
  HandshakeHooks* hooks_;
  HandshakePolicy* policy_;
  bool policyRan_ = false;       // the ClientHello policy runs once per connection
  bool tunnelByPolicy_ = false;  // kTunnel came from the policy, not from a hook
  std::string policyDestination_;
  HandshakeState state_ = HandshakeState::kStart;
  HandshakeError error_ = HandshakeError::kNone;
  std::string reason_;
  // S11: the entry the name and destination choose, found once at the ClientHello (its
  // ticket settings apply there) and switched to at the certificate callback.
  const CertEntry* candidate_ = nullptr;
  bool sniMissed_ = false;               // a name was sent and no entry has it
  const CertEntry* selected_ = nullptr;  // S10: selection runs once; set means done
  // The first ClientHello's key shares; a later ClientHello with others answers an HRR.
  std::optional<KeyShareGroups> firstKeyShares_;
  bool helloRetried_ = false;
  std::chrono::steady_clock::time_point start_{};
  std::chrono::microseconds elapsed_{0};
};

}  // namespace tlsgate::tls
