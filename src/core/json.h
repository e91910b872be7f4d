// Minimal JSON writing helpers (escaping only; tlsgate never parses JSON).
#pragma once

#include <string>
#include <string_view>

namespace tlsgate::json {

// Appends `s` as a quoted JSON string, escaping quotes, backslashes and control bytes.
void appendString(std::string& out, std::string_view s);

// "null" for an empty view, else the quoted string.
void appendStringOrNull(std::string& out, std::string_view s);

}  // namespace tlsgate::json
