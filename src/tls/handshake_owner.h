// HandshakeOwner: what the server handshake asks of whoever owns the connection, so that
// the handshake itself knows nothing of routes (tls/ does not depend on proxy/).
//
// Once per connection, at the ClientHello (after the CLIENT_HELLO hooks), with the facts of
// the ClientHello: serve it, with this certificate entry (S11) and these per-name settings;
// stop it (the owner tunnels or closes the connection); refuse it with an alert; or wait.
#pragma once

#include <optional>
#include <string>

#include "tls/cert_store.h"
#include "tls/client_hello.h"
#include "tls/client_verification.h"
#include "tls/tls_settings.h"

namespace tlsgate::tls {

// The failure classes of S4, each with its own counter (defined with the server handshake).
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
  kDenied,             // the route refused the client (sni.yaml ip_allow)
  kAdmissionDenied,    // an admission rule denied it with an alert
};

// Settings that a server name brings over the certificate entry's (sni.yaml).
struct NameSettings {
  std::optional<TlsVersion> minVersion;
  std::optional<TlsVersion> maxVersion;
  std::optional<bool> ticketEnabled;
  std::optional<int> ticketNumber;
  const ClientVerification* verify = nullptr;  // verify_client; null: the context's
};

struct ServeChoice {
  // kWait: nothing to serve yet (acme.on_demand); the handshake pauses until the owner
  // drives it again, then asks onClientHelloAgain().
  enum class Kind : uint8_t { kServe, kStop, kRefuse, kWait };
  Kind kind = Kind::kServe;
  const CertEntry* entry = nullptr;                // kServe: never null
  NameSettings settings;                           // kServe
  bool sniMissed = false;                          // kServe: a name was sent and no entry has it
  bool acmeTlsAlpn = false;                        // kServe: an ACME validation (RFC 8737)
  int alert = 0;                                   // kRefuse: the alert sent
  HandshakeError error = HandshakeError::kDenied;  // kRefuse: the failure class
  std::string reason;                              // kRefuse
};

class HandshakeOwner {
 public:
  virtual ~HandshakeOwner() = default;
  // Called once, with the facts of the first ClientHello (handed over).
  virtual ServeChoice onClientHello(ClientHelloFacts hello) = 0;
  // After a kWait, when the handshake is driven again: the choice with what is known now.
  virtual ServeChoice onClientHelloAgain() {
    ServeChoice refuse;
    refuse.kind = ServeChoice::Kind::kRefuse;
    refuse.alert = SSL_AD_INTERNAL_ERROR;
    refuse.error = HandshakeError::kNoCertificate;
    refuse.reason = "the owner cannot choose again";
    return refuse;
  }
};

}  // namespace tlsgate::tls
