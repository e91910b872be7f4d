#include "proxy/inspect_request.h"

#include "net/http_head.h"

namespace tlsgate::proxy {

namespace {

// Whether the comma-separated `list` holds `token` (any case), as Connection's does.
bool listHas(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (net::equalsIgnoringCase(item, token)) return true;
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
  }
  return false;
}

}  // namespace

InspectRequest parseInspectRequest(std::string_view in) {
  using Kind = InspectRequest::Kind;
  InspectRequest r;
  net::HttpHeadResult parsed = net::parseHttpHead(in, kInspectMaxHead);
  switch (parsed.status) {
    case net::HttpHeadStatus::kNeedMore:
      return r;
    case net::HttpHeadStatus::kTooLarge:
      r.kind = Kind::kTooLarge;
      return r;
    case net::HttpHeadStatus::kBad:
      r.kind = Kind::kBad;
      return r;
    case net::HttpHeadStatus::kDone:
      break;
  }
  const net::HttpHead& head = parsed.head;
  r.consumed = head.size;
  r.keepAlive = head.version == "HTTP/1.1";
  bool hasBody = false;
  for (const net::HttpHeader& h : head.headers) {
    if (net::equalsIgnoringCase(h.name, "connection")) {
      if (listHas(h.value, "close")) r.keepAlive = false;
      if (listHas(h.value, "keep-alive")) r.keepAlive = true;
    } else if (net::equalsIgnoringCase(h.name, "content-length")) {
      hasBody =
          hasBody || h.value.empty() || h.value.find_first_not_of('0') != std::string_view::npos;
    } else if (net::equalsIgnoringCase(h.name, "transfer-encoding")) {
      hasBody = true;
    }
  }
  r.kind = hasBody ? Kind::kBody : Kind::kAnswer;
  return r;
}

}  // namespace tlsgate::proxy
