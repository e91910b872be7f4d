// The counter of each failure class of the server handshake (S4, S20), and the names of
// its states and failure classes for log lines.
#pragma once

#include "stats/counters.h"
#include "tls/server_handshake.h"

namespace tlsgate::tls {

stats::Counter counterFor(HandshakeError e);

}  // namespace tlsgate::tls
