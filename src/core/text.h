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

// `text` fit to echo in a message: at most kEchoLimit bytes (then "…"), and every byte
// that is not printable ASCII as \xNN, so binary bytes never reach a terminal or log raw.
inline std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  const bool cut = text.size() > kEchoLimit;
  if (cut) text = text.substr(0, kEchoLimit);
  for (unsigned char c : text) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (cut) out += "\u2026";  // …
  return out;
}

// 'text', the form every configuration message quotes a value in (see printable()).
inline std::string inQuotes(std::string_view text) {
  return concat({"'", printable(text), "'"});
}

}  // namespace tlsgate
