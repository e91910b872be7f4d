// The ServerHandshake's side of OpenSSL's callbacks during SSL_do_handshake: the
// ClientHello (facts, CLIENT_HELLO hooks, the owner's choice), the certificate (S10, S11),
// client certificate verification and ALPN (S14).
#include <cstring>

#include "core/log.h"
#include "tls/server_handshake.h"
#include "tls/session_tickets.h"
#include "tls/wire_trace.h"

namespace tlsgate::tls {

using stats::Counter;

int ServerHandshake::onClientHello(int* alert) {
  readHello();
  if (helloStep_ == HelloStep::kHooks) {
    HookVerdict v = hooks_ ? hooks_->run(HookPoint::kClientHello) : HookVerdict::kContinue;
    switch (v) {
      case HookVerdict::kContinue:
        helloStep_ = HelloStep::kChoose;
        break;
      case HookVerdict::kPending:
        return SSL_CLIENT_HELLO_RETRY;
      case HookVerdict::kError:
        fail(HandshakeError::kHookError, "a CLIENT_HELLO hook re-enabled with an error");
        *alert = SSL_AD_HANDSHAKE_FAILURE;
        return SSL_CLIENT_HELLO_ERROR;
      case HookVerdict::kTerminate:
      case HookVerdict::kTunnel:
        stopByHook(v);
        return SSL_CLIENT_HELLO_RETRY;  // stop here; the driver sees the new state
    }
  }
  if (helloStep_ == HelloStep::kChoose) return choose(alert);
  return SSL_CLIENT_HELLO_SUCCESS;  // a second ClientHello (after a HelloRetryRequest)
}

void ServerHandshake::readHello() {
  if (!firstKeyShares_) {
    hello_ = readClientHello(ssl_.get());  // once: every later step reads these facts
    firstKeyShares_ = hello_->keyShares;
    sni_ = hello_->sni;
    if (params_.wireTrace) wireTraceClientHello(ssl_.get(), sni_, hello_->ja4);  // S21
    if (hooks_) hooks_->clientHelloRead(*hello_);
    return;
  }
  // OpenSSL calls back once per ClientHello, and again for the same one after a hook
  // paused it: only a second ClientHello brings other key shares.
  if (!helloRetried_ && keySharesFromClientHello(ssl_.get()) != *firstKeyShares_) {
    helloRetried_ = true;
    counters_.add(Counter::kSslHelloRetryRequest);
  }
}

int ServerHandshake::choose(int* alert) {
  // The facts go to the owner once; after a wait (kWait) it chooses again with what it kept.
  chosen_ = hello_ ? owner_.onClientHello(std::move(*hello_)) : owner_.onClientHelloAgain();
  hello_.reset();
  switch (chosen_.kind) {
    case ServeChoice::Kind::kWait:
      return SSL_CLIENT_HELLO_RETRY;  // paused (HandshakeWait::kHook); called again here
    case ServeChoice::Kind::kServe:
      helloStep_ = HelloStep::kChosen;
      applyNameSettings();
      return SSL_CLIENT_HELLO_SUCCESS;
    case ServeChoice::Kind::kStop:
      state_ = HandshakeState::kStopped;
      stopCause_ = StopCause::kOwner;
      return SSL_CLIENT_HELLO_RETRY;  // stop here; the owner knows where it goes
    case ServeChoice::Kind::kRefuse:
      *alert = chosen_.alert;
      fail(chosen_.error, chosen_.reason);
      return SSL_CLIENT_HELLO_ERROR;
  }
  return SSL_CLIENT_HELLO_ERROR;
}

// What must be on the SSL before OpenSSL reads further into the ClientHello: the protocol
// bounds (negotiated after this callback), and the ticket settings of the certificate and
// then of the name, before OpenSSL looks at the client's ticket (the certificate callback
// comes too late for that, and is skipped on resumption).
void ServerHandshake::applyNameSettings() {
  const NameSettings& name = chosen_.settings;
  if (name.minVersion) SSL_set_min_proto_version(ssl_.get(), protocolVersion(*name.minVersion));
  if (name.maxVersion) SSL_set_max_proto_version(ssl_.get(), protocolVersion(*name.maxVersion));
  // The snapshot's settings (the SSL was made on its context), then the certificate's.
  copyTicketSettings(ssl_.get(), store_.trampoline());
  applyTicketSettings(ssl_.get(), chosen_.entry->tickets);
  if (name.ticketEnabled || name.ticketNumber)
    applyTicketSettings(ssl_.get(), {name.ticketEnabled, name.ticketNumber});
}

int ServerHandshake::onCertificate() {
  if (certStep_ == CertStep::kSwitch) {
    // S11: the entry chosen at the ClientHello; S10: once per connection.
    const CertEntry* entry = chosen_.entry;
    int hits = 0, misses = 0;
    const bool served = store_.serve(ssl_.get(), *entry, served_, hits, misses);
    counters_.add(Counter::kSslCertCacheHits, hits);
    counters_.add(Counter::kSslCertCacheMisses, misses);
    if (!served) {
      fail(HandshakeError::kNoCertificate, "the certificate of ssl_multicert.config line " +
                                               std::to_string(entry->line) + " does not parse");
      return 0;
    }
    if (chosen_.settings.verify) chosen_.settings.verify->apply(ssl_.get());
    if (chosen_.sniMissed) counters_.add(Counter::kSslSniMiss);  // served, not by its name
    TG_DEBUG(log::kSsl, "%s: sni='%s' -> ssl_multicert.config line %d", peer_.toString().c_str(),
             log::escaped(sni_).c_str(), entry->line);
    certStep_ = CertStep::kHooks;
  }
  if (certStep_ == CertStep::kDone || !hooks_) {
    certStep_ = CertStep::kDone;
    return 1;
  }
  // S10: then the SNI/CERT hooks, in order; a hook that holds the connection pauses the
  // handshake (-1) and OpenSSL calls back here when it is driven again.
  HookVerdict v = hooks_->run(HookPoint::kCert);
  switch (v) {
    case HookVerdict::kContinue:
      hooks_->applyCertificateOverride(ssl_.get());
      certStep_ = CertStep::kDone;
      return 1;
    case HookVerdict::kPending:
      return -1;
    case HookVerdict::kError:
      fail(HandshakeError::kHookError, "a CERT hook re-enabled with an error");
      return 0;
    case HookVerdict::kTerminate:
    case HookVerdict::kTunnel:
      stopByHook(v);
      return -1;
  }
  return 0;
}

int ServerHandshake::onVerifyClient(int preverifyOk, X509_STORE_CTX* store) {
  if (!preverifyOk) {
    fail(HandshakeError::kClientCertificate,
         std::string("client certificate: ") +
             X509_verify_cert_error_string(X509_STORE_CTX_get_error(store)) + " at depth " +
             std::to_string(X509_STORE_CTX_get_error_depth(store)));
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
      fail(HandshakeError::kHookError, "a VERIFY_CLIENT hook did not complete in its callback");
      return 0;
    default:
      fail(HandshakeError::kHookError, "a VERIFY_CLIENT hook rejected the client certificate");
      return 0;
  }
}

int ServerHandshake::onAlpnSelect(const unsigned char** out, unsigned char* outlen,
                                  const unsigned char* in, unsigned inlen) {
  // RFC 8737: a validation request, answered with the challenge certificate, negotiates
  // acme-tls/1 (which the route checked is the one protocol offered); nobody else gets it.
  if (chosen_.acmeTlsAlpn) {
    *out = in + 1;
    *outlen = in[0];
    return SSL_TLSEXT_ERR_OK;
  }
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
