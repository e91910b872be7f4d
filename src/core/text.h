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

// 'text', the form every configuration message quotes a value in.
inline std::string inQuotes(std::string_view text) {
  return concat({"'", text, "'"});
}

}  // namespace tlsgate
