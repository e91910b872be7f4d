#include "proxy/inspect.h"

#include <algorithm>
#include <cctype>
#include <string_view>

#include "core/log.h"
#include "tls/tls_io.h"

namespace tlsgate::proxy {

using tls::IoStatus;

namespace {

bool iequalsPrefix(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool containsToken(std::string_view value, std::string_view token) {
  std::string v(value);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  return v.find(token) != std::string::npos;
}

}  // namespace

InspectResponder::InspectResponder(SSL* ssl, tls::SocketIo& client, std::string body,
                                   stats::CounterBlock& counters)
    : ssl_(ssl), client_(client), body_(std::move(body)), counters_(counters) {}

void InspectResponder::queue(int status, const char* reason, const std::string& body,
                             bool keepAlive) {
  out_ += "HTTP/1.1 " + std::to_string(status) + " " + reason +
          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n";
  ++answered_;
  if (!keepAlive) out_ += "Connection: close\r\n";
  out_ += "\r\n";
  out_ += body;
  if (!keepAlive) closing_ = true;
}

void InspectResponder::answerRequests() {
  while (!closing_) {
    size_t end = in_.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (in_.size() > kMaxRequest)
        queue(431, "Request Header Fields Too Large", "{\"error\": \"request too large\"}\n",
              false);
      return;
    }
    std::string_view head(in_.data(), end);
    size_t eol = head.find("\r\n");
    std::string_view requestLine = head.substr(0, eol);
    // "METHOD SP target SP HTTP/1.x"
    size_t sp1 = requestLine.find(' '), sp2 = requestLine.rfind(' ');
    std::string_view version =
        sp1 != sp2 && sp2 != std::string_view::npos ? requestLine.substr(sp2 + 1) : "";
    if (version != "HTTP/1.1" && version != "HTTP/1.0") {
      queue(400, "Bad Request", "{\"error\": \"not an HTTP/1.x request\"}\n", false);
      return;
    }
    bool keepAlive = version == "HTTP/1.1";
    bool hasBody = false;
    for (size_t pos = eol; pos != std::string_view::npos && pos < head.size();) {
      size_t next = head.find("\r\n", pos + 2);
      std::string_view line = head.substr(
          pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
      if (iequalsPrefix(line, "connection:")) {
        auto value = trim(line.substr(11));
        if (containsToken(value, "close")) keepAlive = false;
        if (containsToken(value, "keep-alive")) keepAlive = true;
      } else if (iequalsPrefix(line, "content-length:")) {
        hasBody = trim(line.substr(15)) != "0";
      } else if (iequalsPrefix(line, "transfer-encoding:")) {
        hasBody = true;
      }
      pos = next;
    }
    in_.erase(0, end + 4);
    counters_.add(stats::Counter::kInspectRequests);
    if (hasBody) {
      queue(400, "Bad Request", "{\"error\": \"request bodies are not accepted\"}\n", false);
      return;
    }
    queue(200, "OK", body_, keepAlive);
  }
}

Progress InspectResponder::pump() {
  for (;;) {
    bool moved = false;
    if (!closing_ && !peerDone_ && out_.size() == outPos_ && tls::tlsMayRead(ssl_, client_)) {
      char buf[4096];
      tls::IoResult r = tls::tlsRead(ssl_, buf, sizeof buf);
      if (r.status == IoStatus::kOk) {
        in_.append(buf, r.bytes);
        answerRequests();
        moved = true;
      } else if (r.status == IoStatus::kEof) {
        peerDone_ = true;
      } else if (r.status == IoStatus::kError) {
        return Progress::kFailed;
      }
    }
    while (outPos_ < out_.size()) {
      tls::IoResult r = tls::tlsWrite(ssl_, out_.data() + outPos_, out_.size() - outPos_);
      if (r.status != IoStatus::kOk) {
        if (r.status == IoStatus::kError || r.status == IoStatus::kEof) return Progress::kFailed;
        return Progress::kWaiting;
      }
      outPos_ += r.bytes;
      moved = true;
    }
    out_.clear();
    outPos_ = 0;
    if (closing_ || peerDone_) {
      tls::tlsShutdown(ssl_);
      return Progress::kFinished;
    }
    if (!moved) return Progress::kWaiting;
  }
}

}  // namespace tlsgate::proxy
