#include "net/http_head.h"

namespace tlsgate::net {

namespace {

// RFC 9110 5.6.2: the characters of a token (methods, header names).
bool isTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!isTokenChar(c)) return false;
  return true;
}

// Visible ASCII, obs-text and, where `tabOk`, HTAB: what a request line (no tab) or a field
// value may hold. Every other control byte is refused.
bool isLineText(std::string_view s, bool tabOk) {
  for (unsigned char c : s)
    if ((c < 0x20 && !(tabOk && c == '\t')) || c == 0x7f) return false;
  return true;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parseRequestLine(std::string_view line, HttpHead& head) {
  size_t sp1 = line.find(' ');
  size_t sp2 = line.find(' ', sp1 == std::string_view::npos ? sp1 : sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return false;
  head.method = line.substr(0, sp1);
  head.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  head.version = line.substr(sp2 + 1);
  return isToken(head.method) && !head.target.empty() && isLineText(head.target, false) &&
         (head.version == "HTTP/1.1" || head.version == "HTTP/1.0");
}

bool parseHeaderLine(std::string_view line, HttpHead& head) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view name = line.substr(0, colon), value = line.substr(colon + 1);
  // RFC 9112 5.1: no whitespace before the colon; 5.2: no obsolete line folding.
  if (!isToken(name) || !isLineText(value, true)) return false;
  head.headers.push_back({name, trimmed(value)});
  return true;
}

}  // namespace

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x != y && !((x | 0x20) == (y | 0x20) && (x | 0x20) >= 'a' && (x | 0x20) <= 'z'))
      return false;
  }
  return true;
}

const HttpHeader* findHeader(const HttpHead& head, std::string_view name) {
  for (const HttpHeader& h : head.headers)
    if (equalsIgnoringCase(h.name, name)) return &h;
  return nullptr;
}

HttpHeadResult parseHttpHead(std::string_view in, size_t maxHead) {
  HttpHeadResult r;
  bool requestLineSeen = false;
  for (size_t pos = 0;;) {
    size_t lf = in.find('\n', pos);
    if (lf == std::string_view::npos || lf >= maxHead) {
      r.status = in.size() > maxHead ? HttpHeadStatus::kTooLarge : HttpHeadStatus::kNeedMore;
      return r;
    }
    std::string_view line = in.substr(pos, lf - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = lf + 1;
    if (line.empty()) {
      if (!requestLineSeen) continue;  // RFC 9112 2.2: empty lines before a request
      r.head.size = pos;
      r.status = HttpHeadStatus::kDone;
      return r;
    }
    bool ok = requestLineSeen ? parseHeaderLine(line, r.head) : parseRequestLine(line, r.head);
    if (!ok) {
      r.status = HttpHeadStatus::kBad;
      return r;
    }
    requestLineSeen = true;
  }
}

}  // namespace tlsgate::net
