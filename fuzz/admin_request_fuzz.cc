// libFuzzer target for admin::parseHttpRequest (and net::parseHttpHead under it). ASan and
// UBSan catch reads past the input; the checks catch a parser that breaks its promises:
//   - complete (1): the path starts with '/', the body is within its bound and the input
//     holds it; the request re-serialized with CRLF and its Content-Length parses the same.
//   - need more (0) only while the head is within its bound.
//   - One more byte never reverses a decision.
#include <cstddef>
#include <cstdint>
#include <string>

#include "admin/http_request.h"
#include "fuzz_check.h"

using tlsgate::admin::HttpRequest;
using tlsgate::admin::kMaxRequestBody;
using tlsgate::admin::kMaxRequestHead;
using tlsgate::admin::parseHttpRequest;

namespace {

bool same(const HttpRequest& a, const HttpRequest& b) {
  return a.method == b.method && a.path == b.path && a.query == b.query && a.body == b.body;
}

void checkComplete(const std::string& in, const HttpRequest& r) {
  FUZZ_CHECK(!r.path.empty() && r.path[0] == '/');
  FUZZ_CHECK(r.body.size() <= kMaxRequestBody && r.body.size() <= in.size());
  FUZZ_CHECK(in.find(r.body) != std::string::npos);
  std::string again = r.method + ' ' + r.path + (r.query.empty() ? "" : "?" + r.query) +
                      " HTTP/1.1\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n\r\n" +
                      r.body;
  HttpRequest reparsed;
  // A query of just "?" comes back without it: the same request.
  if (r.query.empty() && in.find("?") != std::string::npos) return;
  if (again.size() - r.body.size() > kMaxRequestHead) return;
  FUZZ_CHECK(parseHttpRequest(again, reparsed) == 1);
  FUZZ_CHECK(same(reparsed, r));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t len) {
  std::string in(reinterpret_cast<const char*>(data), len);
  HttpRequest r;
  int status = parseHttpRequest(in, r);
  FUZZ_CHECK(status >= -2 && status <= 1);
  if (status == 1) checkComplete(in, r);
  if (status == 0) FUZZ_CHECK(len <= kMaxRequestHead + kMaxRequestBody);
  if (len > 0) {
    HttpRequest shorter;
    int before = parseHttpRequest(in.substr(0, len - 1), shorter);
    if (before != 0) {
      FUZZ_CHECK(before == status);
      if (status == 1) FUZZ_CHECK(same(shorter, r));
    }
  }
  return 0;
}
