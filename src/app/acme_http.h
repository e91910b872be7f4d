// The http-01 listener of the ACME client (acme.http_listener): plaintext HTTP that answers
// GET /.well-known/acme-challenge/<token> with the key authorization of a pending challenge
// (RFC 8555 section 8.3), and sends everything else to https:// (308, the same host without
// its port, the same path and query) or answers 404, as redirect_https says. It runs on its
// own thread (admin/http_server.h: Connection: close, 16 clients at a time), never on a
// worker.
#pragma once

#include <functional>
#include <memory>

#include "acme/manager.h"
#include "admin/http_server.h"
#include "config/acme_config.h"
#include "stats/counters.h"

namespace tlsgate::app {

// `manager`: the one of the snapshot in use (it changes with a reload).
using CurrentAcmeManager = std::function<std::shared_ptr<acme::Manager>()>;

admin::HttpResponse answerAcmeHttp(const admin::HttpRequest& req, bool redirectHttps,
                                   const acme::Manager* manager, stats::CounterBlock& counters);

Result<std::unique_ptr<admin::HttpServer>> startAcmeHttp(const config::AcmeHttpListener& listener,
                                                         CurrentAcmeManager manager,
                                                         stats::CounterBlock& counters);

}  // namespace tlsgate::app
