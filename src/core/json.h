// Minimal JSON writing helpers (escaping only; tlsgate never parses JSON).
#pragma once

#include <string>
#include <string_view>

namespace tlsgate::json {

// Appends `s` as a quoted JSON string, escaping quotes, backslashes and control bytes.
// Valid UTF-8 is copied as is; each byte that is part of no valid UTF-8 character is
// written as \u00XX (XX: the byte), so that every line is valid JSON whatever a peer sent.
void appendString(std::string& out, std::string_view s);

// "null" for an empty view, else the quoted string.
void appendStringOrNull(std::string& out, std::string_view s);

}  // namespace tlsgate::json
