// AdminEndpoint: the routes of the admin HTTP endpoint (README "Admin endpoint").
//
//   GET  /metrics   Prometheus text format 0.0.4
//   GET  /stats     the same numbers as JSON
//   GET  /health    200 while serving, with the last reload's result
//   POST /reload    GatewayControl::reload(): 200 {"ok": true, "ms": ...} or 422 with the error
//   GET  /certs     the current snapshot's certificates, a page at a time (certs_view.h)
//   GET  /debug     debug tags, all and enabled; POST /debug?tags=ssl,net sets them
//   POST /reopen    reopens the access log (as SIGUSR2)
//
// Other paths get 404, a known path with the wrong method 405. Requests are served on the
// HttpServer's own thread; nothing here touches a worker.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "admin/gateway_control.h"
#include "admin/http_server.h"
#include "net/address.h"
#include "stats/counters.h"

namespace tlsgate::admin {

class AdminEndpoint {
 public:
  AdminEndpoint(GatewayControl& control, const stats::CounterRegistry& registry)
      : control_(control), registry_(registry) {}

  HttpResponse handle(const HttpRequest& request);

 private:
  HttpResponse health();
  HttpResponse reload();
  HttpResponse certs(const HttpRequest& request);
  HttpResponse debug(const HttpRequest& request);

  GatewayControl& control_;
  const stats::CounterRegistry& registry_;
};

// Binds admin.listen and starts serving (`endpoint` must outlive the server).
Result<std::unique_ptr<HttpServer>> startAdmin(const net::Address& address,
                                               AdminEndpoint& endpoint);

// "%2C" → ","; '+' stays '+'. Bad escapes are kept as written.
std::string percentDecode(std::string_view s);
// The value of `key` in an application/x-www-form-urlencoded query, decoded.
std::optional<std::string> queryParam(std::string_view query, std::string_view key);

}  // namespace tlsgate::admin
