#include "core/json.h"

namespace tlsgate::json {

namespace {

constexpr char kHex[] = "0123456789abcdef";

void appendU00(std::string& out, unsigned char c) {
  out += "\\u00";
  out += kHex[c >> 4];
  out += kHex[c & 0xf];
}

// The length of the well-formed UTF-8 sequence at the start of `s` (Unicode 15, table 3-7:
// no overlong forms, no surrogates, nothing above U+10FFFF), 0 if there is none.
size_t utf8SequenceLength(std::string_view s) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = byte(0);
  size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
  if (c < 0xc2 || c > 0xf4 || s.size() < n) return 0;
  unsigned char lo = 0x80, hi = 0xbf;  // the bounds of the second byte
  if (c == 0xe0) lo = 0xa0;
  if (c == 0xed) hi = 0x9f;
  if (c == 0xf0) lo = 0x90;
  if (c == 0xf4) hi = 0x8f;
  if (byte(1) < lo || byte(1) > hi) return 0;
  for (size_t i = 2; i < n; ++i)
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  return n;
}

void appendAscii(std::string& out, unsigned char c) {
  switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (c < 0x20 || c == 0x7f)
        appendU00(out, c);
      else
        out += static_cast<char>(c);
  }
}

}  // namespace

void appendString(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      appendAscii(out, c);
      ++i;
    } else if (size_t n = utf8SequenceLength(s.substr(i)); n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      // A byte of no valid UTF-8 character (docs/decisions.md, "Bytes that are not UTF-8
      // in JSON strings"): U+00XX keeps its value and, since valid characters are never
      // escaped, the raw line tells it from a real U+00XX.
      appendU00(out, c);
      ++i;
    }
  }
  out += '"';
}

void appendStringOrNull(std::string& out, std::string_view s) {
  if (s.empty())
    out += "null";
  else
    appendString(out, s);
}

}  // namespace tlsgate::json
