#include "tls/server_handshake.h"

#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "tls/handshake_error.h"
#include "tls/session_tickets.h"
#include "tls/wire_trace.h"

namespace tlsgate::tls {

using stats::Counter;

namespace {

// ex_data slots: the handshake in progress (cleared when it ends) and the counters of the
// thread that owns the connection (valid for the SSL's whole life).
int handshakeIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
int countersIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

// STYLE rule 7: C callbacks are trampolines to member functions.
struct ServerCallbacks {
  static ServerHandshake* of(SSL* ssl) {
    return static_cast<ServerHandshake*>(SSL_get_ex_data(ssl, handshakeIndex()));
  }
  static int clientHello(SSL* ssl, int* alert, void*) {
    ServerHandshake* hs = of(ssl);
    return hs ? hs->onClientHello(alert) : SSL_CLIENT_HELLO_SUCCESS;
  }
  static int certificate(SSL* ssl, void*) {
    ServerHandshake* hs = of(ssl);
    return hs ? hs->onCertificate() : 1;  // renegotiation after completion keeps the cert
  }
  static int alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen,
                  const unsigned char* in, unsigned inlen, void*) {
    ServerHandshake* hs = of(ssl);
    return hs ? hs->onAlpnSelect(out, outlen, in, inlen) : SSL_TLSEXT_ERR_NOACK;
  }
  static int verify(int ok, X509_STORE_CTX* store) {
    auto* ssl =
        static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    ServerHandshake* hs = ssl ? of(ssl) : nullptr;
    return hs ? hs->onVerifyClient(ok, store) : ok;
  }
  static void info(const SSL* ssl, int where, int ret) {
    // S12: OpenSSL answers a refused client renegotiation with a no_renegotiation alert.
    if ((where & SSL_CB_WRITE_ALERT) && (ret & 0xff) == SSL_AD_NO_RENEGOTIATION) {
      if (auto* c = static_cast<stats::CounterBlock*>(SSL_get_ex_data(ssl, countersIndex())))
        c->add(Counter::kSslRenegotiationRefused);
      TG_DEBUG(log::kSslError, "client-initiated renegotiation refused");
    }
  }
};

void ServerHandshake::installClientVerification(SSL_CTX* ctx, int mode) {
  SSL_CTX_set_verify(ctx, mode, ServerCallbacks::verify);
}

void ServerHandshake::setClientVerification(SSL* ssl, int mode) {
  SSL_set_verify(ssl, mode, mode == SSL_VERIFY_NONE ? nullptr : ServerCallbacks::verify);
}

stats::CounterBlock* ServerHandshake::countersOf(const SSL* ssl) {
  return static_cast<stats::CounterBlock*>(SSL_get_ex_data(ssl, countersIndex()));
}

const OcspStaple* ServerHandshake::ocspOf(SSL* ssl) {
  ServerHandshake* hs = ServerCallbacks::of(ssl);
  return hs && hs->chosen_.entry ? hs->chosen_.entry->ocsp.get() : nullptr;
}

void ServerHandshake::installCallbacks(SSL_CTX* ctx) {
  SSL_CTX_set_client_hello_cb(ctx, ServerCallbacks::clientHello, nullptr);
  SSL_CTX_set_cert_cb(ctx, ServerCallbacks::certificate, nullptr);
  SSL_CTX_set_alpn_select_cb(ctx, ServerCallbacks::alpn, nullptr);
  SSL_CTX_set_info_callback(ctx, ServerCallbacks::info);
}

ServerHandshake::ServerHandshake(const CertStore& store, const ServerParams& params,
                                 ossl::UniquePtr<BIO> bio, const net::Address& local,
                                 const net::Address& peer, stats::CounterBlock& counters,
                                 HandshakeOwner& owner, HandshakeHooks* hooks)
    : store_(store),
      params_(params),
      pendingBio_(std::move(bio)),
      local_(local),
      peer_(peer),
      counters_(counters),
      owner_(owner),
      hooks_(hooks) {}

ServerHandshake::~ServerHandshake() {
  if (ssl_) SSL_set_ex_data(ssl_.get(), handshakeIndex(), nullptr);
}

bool ServerHandshake::over() const {
  return state_ == HandshakeState::kDone || state_ == HandshakeState::kStopped ||
         state_ == HandshakeState::kFailed;
}

HandshakeWait ServerHandshake::advance() {
  for (;;) {
    HandshakeWait wait = HandshakeWait::kNone;
    switch (state_) {
      case HandshakeState::kStart:
        wait = doStart();
        break;
      case HandshakeState::kPreAccept:
        wait = doPreAccept();
        break;
      case HandshakeState::kCreateSession:
        wait = doCreateSession();
        break;
      case HandshakeState::kAccept:
        wait = doAccept();
        break;
      case HandshakeState::kDone:
      case HandshakeState::kStopped:
      case HandshakeState::kFailed:
        return HandshakeWait::kNone;
    }
    if (wait != HandshakeWait::kNone) return wait;
  }
}

HandshakeWait ServerHandshake::doStart() {
  // S1: the clock starts the first time the connection enters the handshake.
  start_ = std::chrono::steady_clock::now();
  counters_.add(Counter::kSslHandshakeAttemptsIn);
  state_ = HandshakeState::kPreAccept;
  return HandshakeWait::kNone;
}

HandshakeWait ServerHandshake::doPreAccept() {
  // S7: every VCONN_START hook, in order, before TLS processing; while one holds the
  // connection, readiness does not advance the handshake.
  HookVerdict v = hooks_ ? hooks_->run(HookPoint::kVconnStart) : HookVerdict::kContinue;
  switch (v) {
    case HookVerdict::kContinue:
      state_ = HandshakeState::kCreateSession;
      return HandshakeWait::kNone;
    case HookVerdict::kPending:
      return HandshakeWait::kHook;
    case HookVerdict::kError:
      fail(HandshakeError::kHookError, "a hook re-enabled the connection with an error");
      return HandshakeWait::kNone;
    case HookVerdict::kTunnel:
    case HookVerdict::kTerminate:
      stopByHook(v);
      return HandshakeWait::kNone;
  }
  return HandshakeWait::kNone;
}

HandshakeWait ServerHandshake::doCreateSession() {
  // S2, S6: the SSL starts on the trampoline context; the certificate callback switches to
  // the chosen entry (S11).
  ssl_.reset(SSL_new(store_.trampoline()));
  if (!ssl_) {
    fail(HandshakeError::kSessionCreate,
         "failed to create SSL server session: " + ossl::drainErrors());
    return HandshakeWait::kNone;
  }
  SSL_set_ex_data(ssl_.get(), handshakeIndex(), this);
  SSL_set_ex_data(ssl_.get(), countersIndex(), &counters_);
  BIO* bio = pendingBio_.release();
  SSL_set_bio(ssl_.get(), bio, bio);
  SSL_set_accept_state(ssl_.get());
  if (params_.wireTrace) startWireTrace(ssl_.get(), *params_.wireTrace, peer_, local_);  // S21
  if (hooks_) hooks_->sessionCreated(ssl_.get());
  state_ = HandshakeState::kAccept;
  return HandshakeWait::kNone;
}

HandshakeWait ServerHandshake::doAccept() {
  ERR_clear_error();
  errno = 0;
  int rc = SSL_do_handshake(ssl_.get());
  if (state_ != HandshakeState::kAccept) {
    ERR_clear_error();  // a callback ended the handshake (stopped or failed), and said why
    return HandshakeWait::kNone;
  }
  if (rc == 1) {
    // S14: stop the clock, count the success and its time.
    elapsed_ = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start_);
    counters_.add(Counter::kSslSuccessHandshakeIn);
    counters_.add(Counter::kSslTotalHandshakeTimeUs, elapsed_.count());
    countSessionReuse(ssl_.get(), counters_);
    SSL_set_ex_data(ssl_.get(), handshakeIndex(), nullptr);
    state_ = HandshakeState::kDone;
    TG_DEBUG(log::kSsl, "handshake done with %s in %lld us: %s %s", peer_.toString().c_str(),
             static_cast<long long>(elapsed_.count()), SSL_get_version(ssl_.get()),
             SSL_get_cipher_name(ssl_.get()));
    return HandshakeWait::kNone;
  }
  return doneOrWait(rc);
}

// S4: maps a failed SSL_do_handshake to exactly one outcome.
HandshakeWait ServerHandshake::doneOrWait(int rc) {
  int sysErrno = errno;
  switch (SSL_get_error(ssl_.get(), rc)) {
    case SSL_ERROR_WANT_READ:
      counters_.add(Counter::kSslErrorWantRead);
      return HandshakeWait::kRead;
    case SSL_ERROR_WANT_WRITE:
      counters_.add(Counter::kSslErrorWantWrite);
      return HandshakeWait::kWrite;
    case SSL_ERROR_WANT_X509_LOOKUP:
      counters_.add(Counter::kSslErrorWantX509Lookup);
      return HandshakeWait::kHook;  // S10: a CERT hook holds the connection
    case SSL_ERROR_WANT_CLIENT_HELLO_CB:
      return HandshakeWait::kHook;  // a CLIENT_HELLO hook holds the connection
    case SSL_ERROR_ZERO_RETURN:
      fail(HandshakeError::kZeroReturn, "peer sent close_notify");
      return HandshakeWait::kNone;
    case SSL_ERROR_SYSCALL: {
      std::string queued = ossl::drainErrors();
      if (sysErrno == EMSGSIZE)
        fail(HandshakeError::kTooLarge, "client sent more than 128 KiB during the handshake");
      else if (sysErrno == 0 && queued.empty())
        fail(HandshakeError::kEof, "handshake EOF");  // S8
      else
        fail(HandshakeError::kSyscall, sysErrno ? std::strerror(sysErrno) : queued.c_str());
      return HandshakeWait::kNone;
    }
    default: {
      unsigned long code = ERR_peek_error();
      std::string queued = ossl::drainErrors();
      if (ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        fail(HandshakeError::kEof, "handshake EOF");  // S8
      else
        fail(HandshakeError::kSsl, queued);
      return HandshakeWait::kNone;
    }
  }
}

void ServerHandshake::timeout() {
  if (!over()) fail(HandshakeError::kTimeout, "handshake timeout");  // S1
}

void ServerHandshake::fail(HandshakeError error, std::string reason) {
  state_ = HandshakeState::kFailed;
  error_ = error;
  reason_ = std::move(reason);
  counters_.add(counterFor(error));
  if (ssl_) SSL_set_ex_data(ssl_.get(), handshakeIndex(), nullptr);
  // S4: a debug line with the peer address and port for every failure.
  TG_DEBUG(log::kSslError, "handshake with %s failed (%s): %s", peer_.toString().c_str(),
           toString(error), log::escaped(reason_).c_str());
}

void ServerHandshake::stopByHook(HookVerdict verdict) {
  state_ = HandshakeState::kStopped;
  if (verdict == HookVerdict::kTunnel) {
    stopCause_ = StopCause::kHookTunnel;
    counters_.add(Counter::kHookTunnels);
  } else {
    stopCause_ = StopCause::kHookTerminate;
    counters_.add(Counter::kHookTerminations);
  }
  TG_DEBUG(log::kSsl, "%s: a hook ended the handshake (%s)", peer_.toString().c_str(),
           verdict == HookVerdict::kTunnel ? "tunnel" : "terminate");
}

std::unique_ptr<SSL, ossl::Deleter<SSL>> ServerHandshake::takeSsl() {
  return std::move(ssl_);
}

}  // namespace tlsgate::tls
