#include "app/acme_http.h"

#include "core/log.h"

namespace tlsgate::app {

namespace {

constexpr std::string_view kChallengePath = "/.well-known/acme-challenge/";

admin::HttpResponse text(int status, std::string body) {
  admin::HttpResponse r;
  r.status = status;
  r.contentType = "text/plain";
  r.body = std::move(body);
  return r;
}

// "example.com:80" -> "example.com"; "[::1]:80" -> "[::1]".
std::string hostWithoutPort(const std::string& host) {
  const size_t colon = host.rfind(':');
  if (colon == std::string::npos || host.find(']', colon) != std::string::npos) return host;
  return host.substr(0, colon);
}

}  // namespace

admin::HttpResponse answerAcmeHttp(const admin::HttpRequest& req, bool redirectHttps,
                                   const acme::Manager* manager, stats::CounterBlock& counters) {
  if (req.path.starts_with(kChallengePath)) {
    const std::string token = req.path.substr(kChallengePath.size());
    std::optional<std::string> answer;
    if (manager && (req.method == "GET" || req.method == "HEAD"))
      answer = manager->keyAuthorization(token);
    if (!answer) return text(404, "no such challenge\n");
    counters.add(stats::Counter::kAcmeHttpValidations);
    TG_DEBUG(log::kNet, "acme: answered the http-01 challenge of token %s",
             log::escaped(token).c_str());
    return text(200, *answer);
  }
  const std::string host = hostWithoutPort(req.host);
  if (!redirectHttps || host.empty() || host.find_first_of("/\\ \r\n") != std::string::npos)
    return text(404, "not found\n");
  admin::HttpResponse r = text(308, "");
  r.location = "https://" + host + req.path + (req.query.empty() ? "" : "?" + req.query);
  return r;
}

Result<std::unique_ptr<admin::HttpServer>> startAcmeHttp(const config::AcmeHttpListener& listener,
                                                         CurrentAcmeManager manager,
                                                         stats::CounterBlock& counters) {
  const bool redirect = listener.redirectHttps;
  auto server = admin::HttpServer::listen(
      listener.address, [manager = std::move(manager), redirect, &counters](const auto& req) {
        std::shared_ptr<acme::Manager> current = manager();
        return answerAcmeHttp(req, redirect, current.get(), counters);
      });
  if (!server) return server.error();
  (*server)->start("acme-http");
  log::info("acme: http-01 answered on %s", (*server)->address().toString().c_str());
  return server;
}

}  // namespace tlsgate::app
