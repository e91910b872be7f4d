// The admin endpoint's requests: parseHttpRequest, a pure function of the bytes received so
// far (unit tested, fuzzed by fuzz/admin_request_fuzz), on top of net::parseHttpHead.
#pragma once

#include <cstddef>
#include <string>

namespace tlsgate::admin {

struct HttpRequest {
  std::string method;
  std::string path;   // without the query
  std::string query;  // after '?', undecoded
  std::string host;   // the Host header ("" when none)
  std::string body;
};

inline constexpr size_t kMaxRequestHead = 8 * 1024;
inline constexpr size_t kMaxRequestBody = 8 * 1024;

// Parses one request from `in`: 1 = complete (in `out`), 0 = need more, -1 = bad request,
// -2 = too large (a head over kMaxRequestHead, a body over kMaxRequestBody). The body is
// announced by Content-Length, digits only; Transfer-Encoding is refused.
int parseHttpRequest(const std::string& in, HttpRequest& out);

}  // namespace tlsgate::admin
