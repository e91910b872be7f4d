// ServerParams: the TLS settings every server context of a snapshot shares.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "tls/groups.h"

namespace tlsgate::tls {

class KeyLog;
struct WireTraceFilter;

// Modern defaults, close to ATS 9.2 and Mozilla's "intermediate" profile. AES-128-GCM
// comes first: as strong as needed and the cheapest suite on AES-NI hardware.
inline constexpr const char* kDefaultCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
inline constexpr const char* kDefaultCiphersuites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

class TicketKeyStore;

struct ServerParams {
  int minVersion = TLS1_2_VERSION;
  int maxVersion = TLS1_3_VERSION;
  std::string ciphers = kDefaultCiphers;
  std::string ciphersuites = kDefaultCiphersuites;
  std::string groups = defaultGroups().server;
  std::string alpnWire;                       // server preference order, in ALPN wire format (S14)
  bool allowClientRenegotiation = false;      // S12
  std::chrono::seconds handshakeTimeout{30};  // S1; 0 = none
  int verifyClientMode = SSL_VERIFY_NONE;     // SSL_VERIFY_PEER [| SSL_VERIFY_FAIL_IF_NO_PEER_CERT]
  std::string clientCaFile;                   // CAs for client certificates
  // Debugging aids, owned by the snapshot; null when off.
  const WireTraceFilter* wireTrace = nullptr;  // S21: which sessions to trace
  const KeyLog* keyLog = nullptr;              // ssl.keylog_file
  // Session resumption (ssl.server): ticket and cached-session lifetime, the TLS 1.2
  // session ID cache, and the ticket keys (borrowed from the snapshot, which owns them;
  // null: OpenSSL's own per-context keys, as in unit tests).
  std::chrono::seconds sessionTimeout{7200};
  bool sessionCache = false;
  long sessionCacheSize = 20480;
  TicketKeyStore* ticketKeys = nullptr;

  // The same settings and the same owned objects (a context built with one serves as well
  // as one built with the other).
  bool operator==(const ServerParams&) const = default;
};

// "http/1.1", "h2" → "\x08http/1.1\x02h2". Names must be 1..255 bytes.
std::string alpnToWire(const std::vector<std::string>& protocols);

}  // namespace tlsgate::tls
