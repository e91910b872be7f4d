#include "acme/http_session.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <mutex>

namespace tlsgate::acme {

namespace {

constexpr long kConnectTimeoutSeconds = 10;
constexpr size_t kMaxBody = 8 << 20;  // a certificate chain or a JSON object, never more

struct SlistFree {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool sameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

void keepHeader(HttpResponse& response, std::string_view line) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    // A new status line (after a 100 Continue, say): forget the previous headers.
    if (line.substr(0, 5) == "HTTP/") response = HttpResponse{};
    return;
  }
  std::string_view name = trim(line.substr(0, colon));
  std::string value(trim(line.substr(colon + 1)));
  if (sameName(name, "Replay-Nonce")) response.replayNonce = value;
  if (sameName(name, "Location")) response.location = value;
  if (sameName(name, "Content-Type")) response.contentType = value;
  if (sameName(name, "Retry-After"))
    response.retryAfter = parseRetryAfter(value, std::time(nullptr));
}

// libcurl's C callbacks: trampolines into the response being read.
size_t onHeader(char* data, size_t size, size_t count, void* user) {
  keepHeader(*static_cast<HttpResponse*>(user), std::string_view(data, size * count));
  return size * count;
}

size_t onBody(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  if (response->body.size() + size * count > kMaxBody) return 0;  // fails the transfer
  response->body.append(data, size * count);
  return size * count;
}

int digitsOf(std::string_view text, size_t at, size_t count) {
  if (at + count > text.size()) return -1;
  int value = 0;
  for (size_t i = at; i < at + count; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

struct HttpSession::Handle {
  CURL* curl = nullptr;
  ~Handle() { curl_easy_cleanup(curl); }
};

HttpSession::HttpSession(std::string caFile, std::chrono::seconds timeout)
    : caFile_(std::move(caFile)),
      timeoutSeconds_(std::max<long>(1, static_cast<long>(timeout.count()))),
      handle_(std::make_unique<Handle>()) {
  static std::once_flag globalInit;  // curl_global_init is not thread-safe before 7.84
  std::call_once(globalInit, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  handle_->curl = curl_easy_init();
}

HttpSession::~HttpSession() = default;

Result<HttpResponse> HttpSession::send(const std::string& method, const std::string& url,
                                       const std::string& body, const std::string& accept) {
  CURL* curl = handle_->curl;
  if (!curl) return Error{"", 0, url + ": cannot initialise libcurl"};
  curl_easy_reset(curl);  // keeps the open connections, forgets the last request's options
  HttpResponse response;
  char detail[CURL_ERROR_SIZE] = {};
  std::unique_ptr<curl_slist, SlistFree> headers(
      curl_slist_append(nullptr, ("Accept: " + accept).c_str()));
  if (method == "POST")
    headers.reset(curl_slist_append(headers.release(), "Content-Type: application/jose+json"));
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, std::min(kConnectTimeoutSeconds, timeoutSeconds_));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeoutSeconds_);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "tlsgate/" TLSGATE_VERSION " (ACME client)");
  if (!caFile_.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, caFile_.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  if (method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  }
  CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK)
    return Error{"", 0,
                 method + " " + url + ": " + (detail[0] ? detail : curl_easy_strerror(code))};
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

std::optional<std::chrono::seconds> parseRetryAfter(std::string_view value, std::time_t now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return std::isdigit(c); })) {
    if (value.size() > 9) return std::chrono::seconds(999999999);
    return std::chrono::seconds(digitsOf(value, 0, value.size()));
  }
  std::time_t when = curl_getdate(std::string(value).c_str(), nullptr);
  if (when == -1) return std::nullopt;
  return std::chrono::seconds(when > now ? when - now : 0);
}

std::optional<std::time_t> parseRfc3339(std::string_view text) {
  struct tm parts = {};
  parts.tm_year = digitsOf(text, 0, 4) - 1900;
  parts.tm_mon = digitsOf(text, 5, 2) - 1;
  parts.tm_mday = digitsOf(text, 8, 2);
  parts.tm_hour = digitsOf(text, 11, 2);
  parts.tm_min = digitsOf(text, 14, 2);
  parts.tm_sec = digitsOf(text, 17, 2);
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || text[13] != ':' ||
      text[16] != ':' || parts.tm_year < 0 || parts.tm_mon < 0 || parts.tm_mday < 0 ||
      parts.tm_hour < 0 || parts.tm_min < 0 || parts.tm_sec < 0)
    return std::nullopt;
  size_t at = 19;
  if (text[at] == '.')
    while (++at < text.size() && std::isdigit(static_cast<unsigned char>(text[at]))) {
    }
  std::string_view zone = text.substr(std::min(at, text.size()));
  long offset = 0;
  if (zone == "Z" || zone == "z") {
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':' &&
             digitsOf(zone, 1, 2) >= 0 && digitsOf(zone, 4, 2) >= 0) {
    offset = (digitsOf(zone, 1, 2) * 60L + digitsOf(zone, 4, 2)) * 60L;
    if (zone[0] == '-') offset = -offset;
  } else {
    return std::nullopt;
  }
  return timegm(&parts) - offset;
}

}  // namespace tlsgate::acme
