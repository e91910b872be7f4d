// HandshakeHooks: what the handshake driver sees of the hook machinery (a narrow interface,
// so that tls/ does not depend on hooks/).
//
// The driver asks the hooks of a point to run at the right moment: VCONN_START before the
// SSL exists (S7), CLIENT_HELLO from OpenSSL's ClientHello callback, CERT from the
// certificate callback after the common selection (S10). run() is idempotent per point: a
// chain that finished returns its verdict again when OpenSSL re-enters the callback, and a
// chain that is paused resumes where it stopped once its hook completed.
#pragma once

#include <cstdint>
#include <string>

#include "tls/client_hello.h"
#include "tls/ossl.h"

namespace tlsgate::tls {

// Same values as the ABI's tlsgate_hook_point.
enum class HookPoint : uint8_t {
  kVconnStart,
  kClientHello,
  kCert,
  kVerifyClient,
  kVconnClose,
  kOutboundStart,
  kVerifyServer,
};

enum class HookVerdict : uint8_t {
  kContinue,   // every hook of the point re-enabled: go on
  kPending,    // a hook holds the connection: pause (S7, S10)
  kError,      // a hook re-enabled with error: fail the handshake with an alert
  kTerminate,  // close now, no alert
  kTunnel,     // become a blind tunnel (the owner knows where to)
};

class HandshakeHooks {
 public:
  virtual ~HandshakeHooks() = default;
  virtual HookVerdict run(HookPoint point) = 0;
  // The SSL exists (after VCONN_START): the hooks of later points may look at it.
  virtual void sessionCreated(SSL* ssl) = 0;
  // After the CERT chain: serves on `ssl` the certificate a hook chose instead of the
  // selected one, if any.
  virtual void applyCertificateOverride(SSL* ssl) = 0;
  // The ClientHello was read (before the CLIENT_HELLO hooks): what hooks may ask about it.
  virtual void clientHelloRead(const ClientHelloFacts& hello) = 0;
  // After a hook asked for a tunnel: where to ("" = the original destination).
  virtual const std::string& tunnelDestination() const = 0;
};

}  // namespace tlsgate::tls
