// Key exchange groups: the defaults, chosen by what the linked OpenSSL implements, and the
// check of a list written in tlsgate.yaml.
//
// With ML-KEM (OpenSSL 3.5+) the server list is "X25519MLKEM768:X25519/P-256:P-384": two
// tuples (OpenSSL 3.5's syntax). Within the first, a client that sent a key share for
// X25519MLKEM768 gets it, and a client that sent only an X25519 share gets X25519 with no
// HelloRetryRequest (a round trip); only a client whose shares are all outside the first
// tuple while it supports one of them is asked again. The list is written out instead of
// built on DEFAULT (CVE-2026-2673: DEFAULT lost its tuples before OpenSSL 3.5.6 / 3.6.2).
// Without ML-KEM (OpenSSL 3.0) the list is the flat "X25519:P-256:P-384".
//
// Towards origins the order is the same; the client sends key shares for X25519MLKEM768
// and X25519, as browsers do, so that an origin without ML-KEM needs no second round trip.
#pragma once

#include <string>

#include "core/result.h"

namespace tlsgate::tls {

struct GroupDefaults {
  std::string server;
  std::string client;
  bool postQuantum = false;  // the library implements X25519MLKEM768
};

// Asked of the library once per process.
const GroupDefaults& defaultGroups();

// Checks `list` (OpenSSL's syntax) against the library. The error names the first group the
// library does not know, or says that the syntax needs a newer OpenSSL.
Status checkGroups(const std::string& list);

// Whether `list` names the DEFAULT pseudo-group (see CVE-2026-2673 above).
bool usesDefaultKeyword(const std::string& list);

}  // namespace tlsgate::tls
