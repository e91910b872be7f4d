#include "proxy/inspect.h"

#include "core/log.h"
#include "proxy/inspect_request.h"
#include "tls/tls_io.h"

namespace tlsgate::proxy {

using tls::IoStatus;

InspectResponder::InspectResponder(SSL* ssl, tls::SocketIo& client, std::string body,
                                   stats::CounterBlock& counters)
    : ssl_(ssl), client_(client), body_(std::move(body)), counters_(counters) {}

void InspectResponder::queue(int status, const char* reason, const std::string& body,
                             bool keepAlive) {
  out_ += "HTTP/1.1 " + std::to_string(status) + " " + reason +
          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n";
  answered_ = true;
  if (!keepAlive) out_ += "Connection: close\r\n";
  out_ += "\r\n";
  out_ += body;
  if (!keepAlive) closing_ = true;
}

void InspectResponder::answerRequests() {
  using Kind = InspectRequest::Kind;
  while (!closing_) {
    InspectRequest request = parseInspectRequest(in_);
    switch (request.kind) {
      case Kind::kNeedMore:
        return;
      case Kind::kTooLarge:
        queue(431, "Request Header Fields Too Large", "{\"error\": \"request too large\"}\n",
              false);
        return;
      case Kind::kBad:
        queue(400, "Bad Request", "{\"error\": \"not an HTTP/1.x request\"}\n", false);
        return;
      case Kind::kBody:
        counters_.add(stats::Counter::kInspectRequests);
        queue(400, "Bad Request", "{\"error\": \"request bodies are not accepted\"}\n", false);
        return;
      case Kind::kAnswer:
        in_.erase(0, request.consumed);
        counters_.add(stats::Counter::kInspectRequests);
        queue(200, "OK", body_, request.keepAlive);
        break;
    }
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
        bytesIn_ += r.bytes;
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
      bytesOut_ += r.bytes;
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
