// ssl.server.ticket_key.redis: session ticket keys shared by a fleet through Redis
// (tls/ticket_key_redis.h).
//
//   ssl:
//     server:
//       ticket_key:
//         redis:
//           address: 10.0.0.5:6379       # host:port or [v6]:port (required)
//           key_prefix: "tlsgate:stek:"  # the fleet's keys live under it; default shown
//           password_file: redis.pass    # optional: AUTH with its first line (relative to
//                                        # tlsgate.yaml); read at load
//           poll_interval: 1             # seconds between reads of the ring (decimals allowed)
#pragma once

#include <memory>
#include <string>

#include "config/gateway_config.h"
#include "core/result.h"
#include "tls/ticket_key_redis.h"

namespace tlsgate::config {

namespace yaml {
struct Field;
}

// The mapping under `f` (ssl.server.ticket_key.redis). Errors name `path` and the line.
// `dir`: the folder of tlsgate.yaml, for password_file.
// `scope`: where the mapping is in the schema (acme.redis has the same keys).
Result<TicketRedisConfig> parseTicketRedisConfig(
    const yaml::Field& f, const std::string& path, const std::string& dir,
    std::string_view scope = "ssl.server.ticket_key.redis");

// The password in password_file: its content up to the first line break (a trailing
// newline is not part of it). An unreadable or empty file is an error at
// `path`:password_file's line.
Result<std::string> readRedisPassword(const TicketRedisConfig& redis, const std::string& path);

// The options of the sync thread for `config`'s ssl.server.ticket_key.redis (which must be
// set): the connection, the password (read from password_file now), the rotation and the
// ticket lifetime. Nothing is contacted.
Result<tls::TicketRedisOptions> ticketRedisOptions(const GatewayConfig& config);

}  // namespace tlsgate::config
