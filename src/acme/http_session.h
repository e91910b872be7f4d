// HttpSession: the ACME client's HTTPS, one reused libcurl easy handle (connections are
// kept alive between requests). Synchronous: connect timeout 10 s, whole request 30 s
// (or less when asked: acme.on_demand's ask).
// Redirects are not followed (ACME never needs them, and a POST must not be replayed).
#pragma once

#include <chrono>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace tlsgate::acme {

struct HttpResponse {
  long status = 0;
  std::string body;
  std::string contentType, location, replayNonce;
  std::optional<std::chrono::seconds> retryAfter;  // when the response had a usable one
};

class HttpSession {
 public:
  // caFile: the CA bundle that verifies the server; empty for the system's trust store.
  // `timeout`: the bound of a whole request (the connect's too, when shorter than 10 s).
  explicit HttpSession(std::string caFile, std::chrono::seconds timeout = std::chrono::seconds(30));
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  // method: "GET", "HEAD" or "POST" (body sent as application/jose+json). An HTTP error
  // status is a response, not an Error; Errors are transport failures and name the URL.
  Result<HttpResponse> send(const std::string& method, const std::string& url,
                            const std::string& body, const std::string& accept);

 private:
  struct Handle;
  std::string caFile_;
  long timeoutSeconds_;
  std::unique_ptr<Handle> handle_;
};

// Retry-After (RFC 9110 section 10.2.3): delay-seconds or an HTTP-date, as a delay from
// `now` (0 for a date in the past); nullopt when it is neither.
std::optional<std::chrono::seconds> parseRetryAfter(std::string_view value, std::time_t now);

// An RFC 3339 date-time ("2025-01-02T03:04:05Z", fractions and offsets allowed).
std::optional<std::time_t> parseRfc3339(std::string_view text);

}  // namespace tlsgate::acme
