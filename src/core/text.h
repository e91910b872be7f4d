// Building message text. concat() joins pieces in one allocation; GCC 12 at -O2 and above
// reports a false -Wrestrict on `"literal" + std::string(...)` (GCC bug 105329), so messages
// are joined with concat() instead of chains of operator+.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace tlsgate {

inline std::string concat(std::initializer_list<std::string_view> pieces) {
  std::size_t size = 0;
  for (std::string_view piece : pieces) size += piece.size();
  std::string out;
  out.reserve(size);
  for (std::string_view piece : pieces) out.append(piece);
  return out;
}

// The longest value a message echoes: a 1 MB line quoted whole buries the message.
inline constexpr std::size_t kEchoLimit = 80;

// `text` with every byte that is not printable ASCII (CR, LF, NUL, ESC, the bytes of
// non-ASCII characters) written as \xNN: what a peer or a file brought can then neither
// forge a log line nor reach a terminal raw. A backslash stays as it is, so that text
// escaped once (a message quoting a value) is not escaped again by the log call.
inline std::string escapeBytes(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// `text` fit to echo in a message: at most kEchoLimit bytes (then "…"), escaped as above.
inline std::string printable(std::string_view text) {
  if (text.size() <= kEchoLimit) return escapeBytes(text);
  return escapeBytes(text.substr(0, kEchoLimit)) + "\u2026";  // …
}

// 'text', the form every configuration message quotes a value in (see printable()).
inline std::string inQuotes(std::string_view text) {
  return concat({"'", printable(text), "'"});
}

}  // namespace tlsgate
