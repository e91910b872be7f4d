// The built-in `inspect` endpoint: a tiny HTTP/1.1 responder that answers every request
// with a JSON description of the connection's TLS session. It makes the demo useful and is
// how tests and operators see what tlsgate negotiated.
//
// Requests are read up to the end of their headers (bounded: 16 KiB, else 431 and close;
// lines may end in CRLF or a bare LF) and parsed by parseInspectRequest (inspect_request.h);
// bodies are not expected (a request with Content-Length or chunked body gets 400 and
// close), nor bytes outside HTTP/1.x's grammar (400 and close). Keep-alive as HTTP/1.1
// says: close after the response when the client asks, or for HTTP/1.0 without keep-alive.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "proxy/progress.h"
#include "stats/counters.h"
#include "tls/ossl.h"
#include "tls/socket_bio.h"

namespace tlsgate::proxy {

class InspectResponder {
 public:
  InspectResponder(SSL* ssl, tls::SocketIo& client, std::string body,
                   stats::CounterBlock& counters);
  Progress pump();
  // True if a request was answered (a response queued, good or bad) since the last call,
  // then clears it: the owner's request clock (inspect.request_timeout) starts again.
  bool takeAnswered() { return std::exchange(answered_, false); }
  // The plaintext read from and written to the client so far (the access log's bytes_in
  // and bytes_out, counted as a relay counts them).
  uint64_t bytesIn() const { return bytesIn_; }
  uint64_t bytesOut() const { return bytesOut_; }

 private:
  // Parses complete requests in in_ and queues their responses; false on a bad request
  // (its error response is queued and the connection closes after it).
  void answerRequests();
  void queue(int status, const char* reason, const std::string& body, bool keepAlive);

  SSL* ssl_;
  tls::SocketIo& client_;
  std::string body_;  // the session's JSON, built once
  stats::CounterBlock& counters_;
  std::string in_;
  std::string out_;
  size_t outPos_ = 0;
  bool closing_ = false;  // the last queued response ends the connection
  bool peerDone_ = false;
  bool answered_ = false;
  uint64_t bytesIn_ = 0;
  uint64_t bytesOut_ = 0;
};

}  // namespace tlsgate::proxy
