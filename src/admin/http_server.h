// HttpServer: the admin endpoint's small HTTP/1.1 server, on its own thread.
//
// It shares nothing with the workers but what the handler reads, so a slow or hostile admin
// client can never slow the proxy. One poll() loop serves a few clients at a time: a request
// (head at most 8 KiB, body at most 8 KiB, announced by Content-Length) must arrive within
// the read timeout, gets one response, and the connection closes (Connection: close).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "admin/http_request.h"
#include "core/fd.h"
#include "core/result.h"
#include "net/address.h"

namespace tlsgate::admin {

struct HttpResponse {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  std::string allow;     // the Allow header of a 405
  std::string location;  // the Location header of a redirect
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  static constexpr size_t kMaxClients = 16;
  static constexpr std::chrono::seconds kReadTimeout{5};

  // Binds `address` now (errors name it); serving starts with start().
  static Result<std::unique_ptr<HttpServer>> listen(const net::Address& address, Handler handler);
  ~HttpServer();  // stops the thread
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // `threadName`: what the serving thread is called (core/thread_name.h).
  void start(const std::string& threadName);
  const net::Address& address() const { return bound_; }

 private:
  HttpServer(Fd listenFd, Fd wakeFd, const net::Address& bound, Handler handler);
  void run();

  Fd listen_;
  Fd wake_;  // eventfd: stop
  net::Address bound_;
  Handler handler_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The reason phrase of the statuses the admin endpoint uses.
const char* reasonPhrase(int status);

}  // namespace tlsgate::admin
