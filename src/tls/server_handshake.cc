#include "tls/server_handshake.h"

#include <cerrno>
#include <cstring>

#include "core/log.h"
#include "tls/client_hello.h"
#include "tls/session_tickets.h"
#include "tls/wire_trace.h"

namespace tlsgate::tls {

using stats::Counter;

const char* toString(HandshakeState s) {
  switch (s) {
    case HandshakeState::kStart:
      return "start";
    case HandshakeState::kPreAccept:
      return "pre_accept";
    case HandshakeState::kCreateSession:
      return "create_session";
    case HandshakeState::kAccept:
      return "accept";
    case HandshakeState::kDone:
      return "done";
    case HandshakeState::kTunnel:
      return "tunnel";
    case HandshakeState::kTerminated:
      return "terminated";
    case HandshakeState::kFailed:
      return "failed";
  }
  return "?";
}

const char* toString(HandshakeError e) {
  switch (e) {
    case HandshakeError::kNone:
      return "none";
    case HandshakeError::kSessionCreate:
      return "session_create";
    case HandshakeError::kSsl:
      return "ssl";
    case HandshakeError::kSyscall:
      return "syscall";
    case HandshakeError::kZeroReturn:
      return "zero_return";
    case HandshakeError::kEof:
      return "eof";
    case HandshakeError::kTimeout:
      return "timeout";
    case HandshakeError::kNoCertificate:
      return "no_certificate";
    case HandshakeError::kTooLarge:
      return "too_large";
    case HandshakeError::kHookError:
      return "hook_error";
    case HandshakeError::kClientCertificate:
      return "client_certificate";
    case HandshakeError::kDenied:
      return "denied";
  }
  return "?";
}

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

Counter counterFor(HandshakeError e) {
  switch (e) {
    case HandshakeError::kSessionCreate:
      return Counter::kSslSessionCreateFailure;
    case HandshakeError::kSyscall:
      return Counter::kSslErrorSyscall;
    case HandshakeError::kZeroReturn:
      return Counter::kSslErrorZeroReturn;
    case HandshakeError::kEof:
      return Counter::kSslHandshakeEof;
    case HandshakeError::kTimeout:
      return Counter::kSslHandshakeTimeout;
    case HandshakeError::kNoCertificate:
      return Counter::kSslNoCertificate;
    case HandshakeError::kHookError:
      return Counter::kSslHookError;
    case HandshakeError::kClientCertificate:
      return Counter::kSslClientCertificateFailure;
    case HandshakeError::kDenied:
      return Counter::kSniIpAllowDenied;
    case HandshakeError::kNone:
    case HandshakeError::kSsl:
    case HandshakeError::kTooLarge:
      break;
  }
  return Counter::kSslErrorSsl;
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

void ServerHandshake::installCallbacks(SSL_CTX* ctx) {
  SSL_CTX_set_client_hello_cb(ctx, ServerCallbacks::clientHello, nullptr);
  SSL_CTX_set_cert_cb(ctx, ServerCallbacks::certificate, nullptr);
  SSL_CTX_set_alpn_select_cb(ctx, ServerCallbacks::alpn, nullptr);
  SSL_CTX_set_info_callback(ctx, ServerCallbacks::info);
}

ServerHandshake::ServerHandshake(const CertStore& store, const ServerParams& params,
                                 ossl::UniquePtr<BIO> bio, const net::Address& local,
                                 const net::Address& peer, stats::CounterBlock& counters,
                                 HandshakeHooks* hooks, HandshakePolicy* policy)
    : store_(store),
      params_(params),
      pendingBio_(std::move(bio)),
      local_(local),
      peer_(peer),
      counters_(counters),
      hooks_(hooks),
      policy_(policy) {}

ServerHandshake::~ServerHandshake() {
  if (ssl_) SSL_set_ex_data(ssl_.get(), handshakeIndex(), nullptr);
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
      case HandshakeState::kTunnel:
      case HandshakeState::kTerminated:
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
  if (v == HookVerdict::kPending) return HandshakeWait::kHook;
  if (v != HookVerdict::kContinue) {
    endByHook(v);
    return HandshakeWait::kNone;
  }
  state_ = HandshakeState::kCreateSession;
  return HandshakeWait::kNone;
}

HandshakeWait ServerHandshake::doCreateSession() {
  // S2, S6: the SSL starts on the trampoline context; the certificate callback picks the
  // real one (S11).
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

void ServerHandshake::endByHook(HookVerdict verdict) {
  switch (verdict) {
    case HookVerdict::kTunnel:
      counters_.add(Counter::kHookTunnels);
      state_ = HandshakeState::kTunnel;
      break;
    case HookVerdict::kTerminate:
      counters_.add(Counter::kHookTerminations);
      state_ = HandshakeState::kTerminated;
      break;
    default:
      fail(HandshakeError::kHookError, "a hook re-enabled the connection with an error");
      break;
  }
  TG_DEBUG(log::kSsl, "%s: hook ended the handshake: %s", peer_.toString().c_str(),
           toString(state_));
}

HandshakeWait ServerHandshake::doAccept() {
  ERR_clear_error();
  errno = 0;
  int rc = SSL_do_handshake(ssl_.get());
  if (state_ != HandshakeState::kAccept) {
    ERR_clear_error();  // a hook ended the handshake from inside a callback
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
  // S4: map the result to exactly one outcome.
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
      if (error_ == HandshakeError::kNoCertificate || error_ == HandshakeError::kHookError ||
          error_ == HandshakeError::kClientCertificate || error_ == HandshakeError::kDenied)
        fail(error_, reason_);
      else if (ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        fail(HandshakeError::kEof, "handshake EOF");  // S8
      else
        fail(HandshakeError::kSsl, queued);
      return HandshakeWait::kNone;
    }
  }
}

void ServerHandshake::timeout() {
  if (state_ != HandshakeState::kStart && state_ != HandshakeState::kPreAccept &&
      state_ != HandshakeState::kCreateSession && state_ != HandshakeState::kAccept)
    return;                                             // already over
  fail(HandshakeError::kTimeout, "handshake timeout");  // S1
}

void ServerHandshake::fail(HandshakeError error, std::string reason) {
  state_ = HandshakeState::kFailed;
  error_ = error;
  reason_ = std::move(reason);
  counters_.add(counterFor(error));
  // S4: a debug line with the peer address and port for every failure.
  TG_DEBUG(log::kSslError, "handshake with %s failed (%s): %s", peer_.toString().c_str(),
           toString(error), reason_.c_str());
}

const std::string& ServerHandshake::tunnelDestination() const {
  static const std::string kOriginal;
  if (tunnelByPolicy_) return policyDestination_;
  return hooks_ ? hooks_->tunnelDestination() : kOriginal;
}

// Applies a routing verdict; false when the handshake must stop here.
bool ServerHandshake::applyPolicy(PolicyVerdict verdict, int* alert) {
  switch (verdict.kind) {
    case PolicyVerdict::kContinue:
      return true;
    case PolicyVerdict::kDeny:
      error_ = HandshakeError::kDenied;
      reason_ = "refused by sni.yaml ip_allow";
      if (alert) *alert = verdict.alert;
      return false;
    case PolicyVerdict::kTunnel:
      tunnelByPolicy_ = true;
      policyDestination_ = std::move(verdict.destination);
      state_ = HandshakeState::kTunnel;
      TG_DEBUG(log::kSsl, "%s: routed to a blind tunnel to '%s'", peer_.toString().c_str(),
               policyDestination_.c_str());
      return false;
  }
  return false;
}

ossl::UniquePtr<SSL> ServerHandshake::takeSsl() {
  return std::move(ssl_);
}

std::chrono::microseconds ServerHandshake::elapsed() const {
  return elapsed_;
}

int ServerHandshake::onClientHello(int* alert) {
  noteKeyShares();
  if (params_.wireTrace) wireTraceClientHello(ssl_.get());  // S21: the server_name filter
  HookVerdict v = hooks_ ? hooks_->run(HookPoint::kClientHello) : HookVerdict::kContinue;
  switch (v) {
    case HookVerdict::kContinue: {
      // S11: the certificate's ticket settings, before OpenSSL reads the client's ticket
      // (the certificate callback comes too late for that, and is skipped on resumption).
      const std::string sni = sniFromClientHello(ssl_.get());
      if (!candidate_) candidate_ = choose(sni);
      if (candidate_) copyTicketSettings(ssl_.get(), candidate_->ctx.get());
      // The per-name routing (sni.yaml) decides after the plugins, once: OpenSSL re-enters
      // this callback after a paused hook.
      if (policy_ && !policyRan_) {
        policyRan_ = true;
        if (!applyPolicy(policy_->onClientHello(ssl_.get(), sni), alert))
          return state_ == HandshakeState::kTunnel ? SSL_CLIENT_HELLO_RETRY
                                                   : SSL_CLIENT_HELLO_ERROR;
      }
      return SSL_CLIENT_HELLO_SUCCESS;
    }
    case HookVerdict::kPending:
      return SSL_CLIENT_HELLO_RETRY;
    case HookVerdict::kError:
      error_ = HandshakeError::kHookError;
      reason_ = "a CLIENT_HELLO hook re-enabled with an error";
      *alert = SSL_AD_HANDSHAKE_FAILURE;
      return SSL_CLIENT_HELLO_ERROR;
    case HookVerdict::kTerminate:
    case HookVerdict::kTunnel:
      endByHook(v);
      return SSL_CLIENT_HELLO_RETRY;  // stop here; the driver sees the new state
  }
  return SSL_CLIENT_HELLO_ERROR;
}

void ServerHandshake::noteKeyShares() {
  // OpenSSL calls back once per ClientHello, and again for the same one after a hook
  // paused it: only a second ClientHello brings other key shares.
  KeyShareGroups shares = keySharesFromClientHello(ssl_.get());
  if (!firstKeyShares_) {
    firstKeyShares_ = shares;
  } else if (!helloRetried_ && shares != *firstKeyShares_) {
    helloRetried_ = true;
    counters_.add(Counter::kSslHelloRetryRequest);
  }
}

const CertEntry* ServerHandshake::choose(const std::string& sni) {
  // S11: the name (exact, then wildcard), else the destination address, else the default.
  const CertEntry* byName = store_.findByName(sni);
  if (byName) return byName;
  sniMissed_ = !sni.empty();
  return store_.select({}, local_);
}

int ServerHandshake::onCertificate() {
  if (!selected_) {  // S10: the common selection runs once per connection
    const char* sni = SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name);
    const CertEntry* entry = candidate_;  // chosen at the ClientHello
    if (!entry) {
      error_ = HandshakeError::kNoCertificate;
      reason_ = std::string("no certificate for sni='") + (sni ? sni : "") +
                "' local=" + local_.toString() + " and no default (dest_ip=*)";
      return 0;  // the handshake fails with an alert
    }
    if (entry->ctx.get() != SSL_get_SSL_CTX(ssl_.get()))
      SSL_set_SSL_CTX(ssl_.get(), entry->ctx.get());
    selected_ = entry;
    if (sniMissed_) counters_.add(Counter::kSslSniMiss);  // served, but not by its name
    TG_DEBUG(log::kSsl, "%s: sni='%s' → ssl_multicert.config line %d", peer_.toString().c_str(),
             sni ? sni : "", entry->line);
    if (policy_ && !applyPolicy(policy_->onCertificateSelected(
                                    ssl_.get(), entry->tunnel),
                                nullptr))
      return state_ == HandshakeState::kTunnel ? -1 : 0;
  }
  if (!hooks_) return 1;
  // S10: then the SNI/CERT hooks, in order; a hook that holds the connection pauses the
  // handshake (-1) and OpenSSL calls back here when it is driven again.
  HookVerdict v = hooks_->run(HookPoint::kCert);
  switch (v) {
    case HookVerdict::kContinue:
      hooks_->applyCertificateOverride(ssl_.get());
      return 1;
    case HookVerdict::kPending:
      return -1;
    case HookVerdict::kError:
      error_ = HandshakeError::kHookError;
      reason_ = "a CERT hook re-enabled with an error";
      return 0;
    case HookVerdict::kTerminate:
    case HookVerdict::kTunnel:
      endByHook(v);
      return -1;
  }
  return 0;
}

int ServerHandshake::onVerifyClient(int preverifyOk, X509_STORE_CTX* store) {
  if (!preverifyOk) {
    error_ = HandshakeError::kClientCertificate;
    reason_ = std::string("client certificate: ") +
              X509_verify_cert_error_string(X509_STORE_CTX_get_error(store)) + " at depth " +
              std::to_string(X509_STORE_CTX_get_error_depth(store));
    return 0;  // OpenSSL sends the matching alert
  }
  // Intermediates pass on the chain result; the hooks see the verified leaf.
  if (X509_STORE_CTX_get_error_depth(store) != 0 || !hooks_) return 1;
  // OpenSSL 3.0 cannot suspend a server's certificate verification, so VERIFY_CLIENT hooks
  // run synchronously: a hook must complete its turn inside its callback.
  switch (hooks_->run(HookPoint::kVerifyClient)) {
    case HookVerdict::kContinue:
      return 1;
    case HookVerdict::kPending:
      reason_ = "a VERIFY_CLIENT hook did not complete in its callback";
      break;
    default:
      reason_ = "a VERIFY_CLIENT hook rejected the client certificate";
      break;
  }
  error_ = HandshakeError::kHookError;
  return 0;
}

int ServerHandshake::onAlpnSelect(const unsigned char** out, unsigned char* outlen,
                                  const unsigned char* in, unsigned inlen) {
  // S14: server preference — the first of our protocols that the client offers.
  const auto* ours = reinterpret_cast<const unsigned char*>(params_.alpnWire.data());
  const size_t oursLen = params_.alpnWire.size();
  for (size_t i = 0; i < oursLen; i += 1 + ours[i]) {
    const unsigned char len = ours[i];
    for (unsigned j = 0; j < inlen; j += 1 + in[j]) {
      if (in[j] == len && j + 1 + len <= inlen && std::memcmp(in + j + 1, ours + i + 1, len) == 0) {
        *out = ours + i + 1;
        *outlen = len;
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return SSL_TLSEXT_ERR_NOACK;  // no overlap: carry on without ALPN (default endpoint)
}

}  // namespace tlsgate::tls
