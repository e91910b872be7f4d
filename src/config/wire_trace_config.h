// ssl.wire_trace and ssl.keylog_file: the two debugging aids of tlsgate.yaml.
//
//   ssl:
//     wire_trace:                 # S21: absent = nothing is traced, at no cost
//       client_ip: 127.0.0.1      # an address, a CIDR or an a-b range; absent = any client
//       server_name: a.test       # the SNI, exactly (case-insensitive); absent = any
//       percentage: 100           # of the connections that match the filters above; 0..100
//     keylog_file: /path/keys.log # NSS key log of every session, inbound and to origins
//
// A connection is traced when it matches every filter given; `wire_trace: {}` traces all.
#pragma once

#include <optional>
#include <string>

#include "core/result.h"
#include "net/cidr.h"
#include "tls/wire_trace.h"

namespace tlsgate::config {

namespace yaml {
struct Field;
}

struct WireTraceConfig : tls::WireTraceFilter {
  int line = 0;
};

// parseWireTrace reads the mapping of `f` (ssl.wire_trace); errors name `path` and the line.
Result<WireTraceConfig> parseWireTrace(const yaml::Field& f, const std::string& path);

}  // namespace tlsgate::config
