#include "admin/admin_endpoint.h"

#include <cctype>
#include <ctime>

#include "admin/certs_view.h"
#include "admin/json_text.h"
#include "admin/metrics.h"
#include "admin/prometheus.h"
#include "core/json.h"
#include "core/log.h"

namespace tlsgate::admin {

namespace {

HttpResponse json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse error(int status, std::string_view message) {
  std::string body = "{\"error\": ";
  json::appendString(body, message);
  body += "}\n";
  return json(status, std::move(body));
}

std::string reloadJson(const ReloadStatus& r) {
  std::string out = "{\"attempts\": " + std::to_string(r.attempts) +
                    ", \"failures\": " + std::to_string(r.failures) +
                    ", \"last_ok\": " + (r.lastOk ? "true" : "false") + ", \"last_error\": ";
  json::appendStringOrNull(out, r.lastError);
  out += ", \"last_time\": ";
  if (r.lastTime) {
    json::appendString(out, isoUtc(r.lastTime));
  } else {
    out += "null";
  }
  out += "}";
  return out;
}

// The certificate store in use, in numbers.
std::string certificatesHealthJson(const CertificateStoreStatus& s) {
  return "{\"entries\": " + std::to_string(s.entries) +
         ", \"loaded\": " + std::to_string(s.certificates) +
         ", \"skipped\": " + std::to_string(s.skipped) +
         ", \"resident_bytes\": " + std::to_string(s.residentBytes) +
         ", \"load_ms\": " + std::to_string(s.loadDuration.count()) + "}";
}

// null, or why an operator should look although the gateway serves.
std::string degradedJson(const CertificateStoreStatus& s) {
  if (s.skipped == 0) return "null";
  std::string out;
  json::appendString(out, std::to_string(s.skipped) + " ssl_multicert.config " +
                              (s.skipped == 1 ? "entry" : "entries") +
                              " skipped (ssl.multicert_partial_reload; the log names each "
                              "file:line)");
  return out;
}

// What each path allows; anything else is 404.
struct Route {
  std::string_view path;
  std::string_view allow;
};
constexpr Route kRoutes[] = {{"/metrics", "GET"}, {"/stats", "GET"}, {"/health", "GET"},
                             {"/reload", "POST"}, {"/certs", "GET"}, {"/debug", "GET, POST"},
                             {"/reopen", "POST"}};

}  // namespace

std::string percentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::optional<std::string> queryParam(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == key)
      return percentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
  }
  return std::nullopt;
}

HttpResponse AdminEndpoint::handle(const HttpRequest& req) {
  const Route* route = nullptr;
  for (const Route& r : kRoutes)
    if (r.path == req.path) route = &r;
  if (!route) return error(404, "no such path: " + req.path);
  bool allowed = false;
  for (std::string_view rest = route->allow; !rest.empty();) {
    size_t comma = rest.find(", ");
    allowed = allowed || rest.substr(0, comma) == req.method;
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 2);
  }
  if (!allowed) {
    HttpResponse r = error(405, req.method + " not allowed on " + req.path);
    r.allow = std::string(route->allow);
    return r;
  }
  if (req.path == "/metrics") {
    HttpResponse r;
    r.contentType = "text/plain; version=0.0.4; charset=utf-8";
    r.body = toPrometheus(collectMetrics(control_, registry_));
    return r;
  }
  if (req.path == "/stats") return json(200, toStatsJson(collectMetrics(control_, registry_)));
  if (req.path == "/health") return health();
  if (req.path == "/reload") return reload();
  if (req.path == "/certs") return certs(req);
  if (req.path == "/debug") return debug(req);
  control_.reopenLogs();  // /reopen
  return json(200, "{\"ok\": true}\n");
}

HttpResponse AdminEndpoint::health() {
  // S16: a failed reload keeps serving the old configuration: still healthy. So does a store
  // that left bad entries out (partial reload): "degraded" says so without failing the
  // probe, which would take every name off the load balancer for the sake of a few.
  CertificateStoreStatus store = control_.certificateStore();
  return json(200, "{\"status\": \"ok\", \"degraded\": " + degradedJson(store) +
                       ", \"reload\": " + reloadJson(control_.reloadStatus()) +
                       ", \"certificates\": " + certificatesHealthJson(store) + "}\n");
}

HttpResponse AdminEndpoint::reload() {
  ReloadResult r = control_.reload();
  if (!r.ok) {
    std::string body = "{\"ok\": false, \"error\": ";
    json::appendString(body, r.error);
    body += "}\n";
    return json(422, std::move(body));
  }
  return json(200, "{\"ok\": true, \"ms\": " +
                       PrometheusText::formatDouble(r.took.count() / 1000.0) + "}\n");
}

HttpResponse AdminEndpoint::certs(const HttpRequest& req) {
  auto parsed = parseCertsQuery(req.query);
  if (const auto* bad = std::get_if<CertsQueryError>(&parsed)) {
    std::string body = "{\"error\": ";
    json::appendString(body, bad->problem);
    body += ", \"parameter\": ";
    json::appendString(body, bad->parameter);
    body += "}\n";
    return json(400, std::move(body));
  }
  const CertsQuery& query = std::get<CertsQuery>(parsed);
  CertsContext context;
  context.now = std::time(nullptr);
  context.managed = control_.managedCertificates();
  context.storeExpired = control_.certificateExpiry()->countBefore(context.now);
  if (query.name)
    return json(200, certsNamedJson(*query.name, control_.certificatesNamed(*query.name), context));
  return json(200,
              certsPageJson(query, control_.certificatePage(query.offset, query.limit), context));
}

HttpResponse AdminEndpoint::debug(const HttpRequest& req) {
  if (req.method == "POST") {
    auto tags = queryParam(req.query, "tags");
    if (!tags) return error(400, "POST /debug needs ?tags=a,b (empty: none)");
    // Each tag is one atomic flag the workers load relaxed: safe to flip while they run.
    log::setDebugTags(*tags);
    log::info("debug tags set to '%s' by the admin endpoint", tags->c_str());
  }
  std::string out = "{\"enabled\": ";
  appendStrings(out, log::debugTagNames(true));
  out += ", \"available\": ";
  appendStrings(out, log::debugTagNames(false));
  out += "}\n";
  return json(200, std::move(out));
}

Result<std::unique_ptr<HttpServer>> startAdmin(const net::Address& address,
                                               AdminEndpoint& endpoint) {
  auto server =
      HttpServer::listen(address, [&endpoint](const HttpRequest& r) { return endpoint.handle(r); });
  if (!server) return server.error();
  (*server)->start("admin");
  log::info("admin endpoint on http://%s", (*server)->address().toString().c_str());
  return server;
}

}  // namespace tlsgate::admin
