#include "admin/http_request.h"

#include <algorithm>
#include <optional>
#include <string_view>

#include "net/http_head.h"

namespace tlsgate::admin {

namespace {

constexpr int kNeedMore = 0, kComplete = 1, kBad = -1, kTooLarge = -2;

// Content-Length as RFC 9110 8.6 has it: digits, at most one value. Capped so that it
// cannot overflow: anything above the cap is too large anyway.
std::optional<size_t> contentLength(std::string_view value) {
  if (value.empty()) return std::nullopt;
  size_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    n = std::min<size_t>(n * 10 + static_cast<size_t>(c - '0'), kMaxRequestBody + 1);
  }
  return n;
}

// The body's length (0 without Content-Length), or kBad / kTooLarge as a negative number.
long bodyLength(const net::HttpHead& head) {
  std::optional<size_t> length;
  for (const net::HttpHeader& h : head.headers) {
    if (net::equalsIgnoringCase(h.name, "transfer-encoding")) return kBad;  // bodies are tiny
    if (!net::equalsIgnoringCase(h.name, "content-length")) continue;
    std::optional<size_t> n = contentLength(h.value);
    if (!n || (length && *length != *n)) return kBad;
    length = n;
  }
  if (length.value_or(0) > kMaxRequestBody) return kTooLarge;
  return static_cast<long>(length.value_or(0));
}

}  // namespace

int parseHttpRequest(const std::string& in, HttpRequest& out) {
  net::HttpHeadResult parsed = net::parseHttpHead(in, kMaxRequestHead);
  if (parsed.status == net::HttpHeadStatus::kNeedMore) return kNeedMore;
  if (parsed.status == net::HttpHeadStatus::kTooLarge) return kTooLarge;
  if (parsed.status == net::HttpHeadStatus::kBad) return kBad;
  const net::HttpHead& head = parsed.head;
  if (head.target.front() != '/') return kBad;
  long length = bodyLength(head);
  if (length < 0) return static_cast<int>(length);
  if (in.size() < head.size + static_cast<size_t>(length)) return kNeedMore;
  out.method = std::string(head.method);
  size_t q = head.target.find('?');
  out.path = std::string(head.target.substr(0, q));
  out.query = q == std::string_view::npos ? "" : std::string(head.target.substr(q + 1));
  out.body = in.substr(head.size, static_cast<size_t>(length));
  const net::HttpHeader* host = net::findHeader(head, "host");
  out.host = host ? std::string(host->value) : "";
  return kComplete;
}

}  // namespace tlsgate::admin
