// ClientHandshake: the client side of the handshake driver (S2-S4 in the client role,
// S17-S19), towards an origin that tlsgate re-encrypts to (partial_blind_route, routes
// with tls: true).
//
// Same shape as the server driver: advance() runs SSL_do_handshake over whatever BIO it is
// given and says what it waits for; the owner re-enters it on readiness and calls
// timeout() when the client handshake clock runs out.
//
// Verification (S19), as ATS's policy and properties ask. The chain result comes first: a
// chain failure is the reason even when the name does not match either. The name check is
// OpenSSL's own (X509_VERIFY_PARAM host / IP matching: a wildcard covers one label): the
// leaf must match the SNI sent or, when none was sent, the origin's IP address. Under
// ENFORCED a failure aborts the handshake inside the verify callback (before tlsgate sends
// a client certificate); under PERMISSIVE it is logged and counted and the handshake goes
// on; DISABLED checks nothing. VERIFY_SERVER hooks run last, on the leaf.
#pragma once

#include <chrono>
#include <string>

#include "net/address.h"
#include "stats/counters.h"
#include "tls/handshake_hooks.h"
#include "tls/ossl.h"
#include "tls/server_handshake.h"
#include "tls/tls_settings.h"

namespace tlsgate::tls {

// The client context of one origin configuration (S17): protocol versions, CA store,
// verification depth, client certificate and key (checked to match here).
struct OriginContextParams {
  std::string caCerts;  // file or directory; empty: the system store
  unsigned verifyDepth = 7;
  std::string cert;  // empty: none
  std::string key;
  std::string groups;  // empty: the built-in default (tls/groups.h)
};
Result<ossl::UniquePtr<SSL_CTX>> newOriginContext(const OriginContextParams& params);
// A number no other origin context of this process has, or ever will have (unlike its
// address, which a context built by a later reload may reuse): what origin sessions are
// keyed by, so that none is resumed under another client identity.
uint64_t originContextId(const SSL_CTX* ctx);

// Gives every origin session OpenSSL makes (TLS 1.2 sessions, TLS 1.3 tickets) to the
// SessionSink set on its SSL: origin contexts call this once.
class SessionSink {
 public:
  virtual ~SessionSink() = default;
  // Takes ownership of `session`.
  virtual void store(ossl::UniquePtr<SSL_SESSION> session) = 0;
};
void setSessionSink(SSL* ssl, SessionSink* sink);

struct OriginVerification {
  VerifyServerPolicy policy = VerifyServerPolicy::kEnforced;
  VerifyServerProperties properties = VerifyServerProperties::kAll;
};

enum class ClientHandshakeError : uint8_t {
  kNone,
  kVerify,   // the origin's certificate failed verification (ENFORCED) or a hook refused it
  kTimeout,  // ssl.client.handshake_timeout_in
  kSsl,      // protocol error, alert from the origin (e.g. it wanted a client certificate)
  kSyscall,  // socket error, or the origin closed
  kCreate,   // S2: no SSL
};

enum class ClientHandshakeState : uint8_t {
  kHandshaking,  // SSL_do_handshake until it completes
  kDone,
  kFailed,  // error() says why
};

class ClientHandshake {
 public:
  struct Params {
    SSL_CTX* ctx = nullptr;
    std::string sni;      // the name sent (S18), "" for none
    net::Address origin;  // its address, for the IP check and the logs
    OriginVerification verification;
    std::string alpnWire;           // offered protocols ("" = none)
    SSL_SESSION* resume = nullptr;  // a session to resume (may be null)
  };
  ClientHandshake(const Params& params, ossl::UniquePtr<BIO> bio, stats::CounterBlock& counters,
                  HandshakeHooks* hooks = nullptr);
  ~ClientHandshake();
  ClientHandshake(const ClientHandshake&) = delete;
  ClientHandshake& operator=(const ClientHandshake&) = delete;

  // kNone once done or failed; kRead / kWrite: wait for that readiness.
  HandshakeWait advance();
  void timeout();

  ClientHandshakeState state() const { return state_; }
  bool done() const { return state_ == ClientHandshakeState::kDone; }
  bool failed() const { return state_ == ClientHandshakeState::kFailed; }
  ClientHandshakeError error() const { return error_; }
  const std::string& reason() const { return reason_; }
  SSL* ssl() const { return ssl_.get(); }
  ossl::UniquePtr<SSL> takeSsl() { return std::move(ssl_); }

 private:
  friend struct ClientCallbacks;
  int onVerify(int ok, X509_STORE_CTX* store);
  void fail(ClientHandshakeError error, std::string reason);
  // The verification failure that counts: the chain's if any, else the name's (S19).
  int reportedError() const { return chainError_ ? chainError_ : nameError_; }
  void countVerifyFailure(int err);
  HandshakeWait waitOrFail(int rc);

  ossl::UniquePtr<SSL> ssl_;
  net::Address origin_;
  OriginVerification verification_;
  stats::CounterBlock& counters_;
  HandshakeHooks* hooks_;
  ClientHandshakeState state_ = ClientHandshakeState::kHandshaking;
  ClientHandshakeError error_ = ClientHandshakeError::kNone;
  std::string reason_;
  int chainError_ = 0;  // first X509_V_ERR_* of the chain checks that counts
  int nameError_ = 0;   // host / IP mismatch, when the name is checked
};

const char* toString(ClientHandshakeError e);

}  // namespace tlsgate::tls
