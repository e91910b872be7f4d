#include "admin/admin_endpoint.h"

#include <cctype>
#include <ctime>

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

std::string isoUtc(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void appendStrings(std::string& out, const std::vector<std::string>& items) {
  out += '[';
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    json::appendString(out, items[i]);
  }
  out += ']';
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
  if (req.path == "/certs") return certs();
  if (req.path == "/debug") return debug(req);
  control_.reopenLogs();  // /reopen
  return json(200, "{\"ok\": true}\n");
}

HttpResponse AdminEndpoint::health() {
  // S16: a failed reload keeps serving the old configuration: still healthy.
  return json(200,
              "{\"status\": \"ok\", \"reload\": " + reloadJson(control_.reloadStatus()) + "}\n");
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

HttpResponse AdminEndpoint::certs() {
  CertificateList list = control_.certificates();
  std::time_t now = std::time(nullptr);
  std::string out = "{\"multicert\": ";
  json::appendString(out, list.multicertPath);
  out += ", \"certificates\": [";
  bool first = true;
  size_t expired = 0;
  for (const CertificateRow& cert : list.rows) {
    if (!first) out += ", ";
    first = false;
    expired += cert.notAfter < now ? 1 : 0;
    out += "{\"file\": ";
    json::appendString(out, cert.file);
    out += ", \"multicert_line\": " + std::to_string(cert.line) + ", \"subject\": ";
    json::appendString(out, cert.subject);
    out += ", \"names\": ";
    appendStrings(out, cert.names);
    out += ", \"key_type\": ";
    json::appendString(out, cert.keyType);
    out += ", \"not_after\": ";
    json::appendString(out, isoUtc(cert.notAfter));
    out += ", \"seconds_left\": " + std::to_string(static_cast<long long>(cert.notAfter - now));
    out += cert.notAfter < now ? ", \"expired\": true" : ", \"expired\": false";
    out += ", \"sha256\": ";
    json::appendString(out, cert.sha256);
    out += cert.isDefault ? ", \"default\": true}" : ", \"default\": false}";
  }
  out += "], \"managed\": [";
  first = true;
  for (const ManagedCertificateRow& cert : list.managed) {
    if (!first) out += ", ";
    first = false;
    expired += cert.notAfter < now ? 1 : 0;
    out += "{\"id\": ";
    json::appendString(out, cert.id);
    out += ", \"source\": ";
    json::appendString(out, cert.source);
    out += ", \"names\": ";
    appendStrings(out, cert.names);
    out += ", \"not_after\": ";
    json::appendString(out, isoUtc(cert.notAfter));
    out += ", \"seconds_left\": " + std::to_string(static_cast<long long>(cert.notAfter - now));
    out += ", \"next_renewal\": ";
    json::appendString(out, isoUtc(cert.nextRenewal));
    out += "}";
  }
  out += "], \"expired\": " + std::to_string(expired) + "}\n";
  return json(200, std::move(out));
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
