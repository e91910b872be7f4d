#include "proxy/connection_record.h"

#include <cstdio>
#include <ctime>

#include "core/json.h"

namespace tlsgate::proxy {

const char* toString(ConnectionError e) {
  switch (e) {
    case ConnectionError::kNone:
      return "none";
    case ConnectionError::kClientClosed:
      return "client_closed";
    case ConnectionError::kProxyRefused:
      return "proxy_refused";
    case ConnectionError::kProxyInvalid:
      return "proxy_invalid";
    case ConnectionError::kHandshakeTimeout:
      return "handshake_timeout";
    case ConnectionError::kHandshakeEof:
      return "handshake_eof";
    case ConnectionError::kHandshakeFailed:
      return "handshake_failed";
    case ConnectionError::kNoCertificate:
      return "no_certificate";
    case ConnectionError::kClientCertificate:
      return "client_certificate";
    case ConnectionError::kDenied:
      return "denied";
    case ConnectionError::kAdmissionRefused:
      return "admission_refused";
    case ConnectionError::kHookError:
      return "hook_error";
    case ConnectionError::kHookTerminated:
      return "hook_terminated";
    case ConnectionError::kNoTunnelDestination:
      return "no_tunnel_destination";
    case ConnectionError::kResolveFailed:
      return "resolve_failed";
    case ConnectionError::kConnectFailed:
      return "connect_failed";
    case ConnectionError::kConnectTimeout:
      return "connect_timeout";
    case ConnectionError::kOriginHandshakeFailed:
      return "origin_handshake_failed";
    case ConnectionError::kOriginHandshakeTimeout:
      return "origin_handshake_timeout";
    case ConnectionError::kNoEndpoint:
      return "no_endpoint";
    case ConnectionError::kRelayFailed:
      return "relay_failed";
    case ConnectionError::kTunnelFailed:
      return "tunnel_failed";
    case ConnectionError::kTunnelIdleTimeout:
      return "tunnel_idle_timeout";
    case ConnectionError::kRelayIdleTimeout:
      return "relay_idle_timeout";
    case ConnectionError::kInspectTimeout:
      return "inspect_timeout";
    case ConnectionError::kShutdown:
      return "shutdown";
  }
  return "error";
}

ConnectionError fromHandshakeError(tls::HandshakeError e) {
  using tls::HandshakeError;
  switch (e) {
    case HandshakeError::kTimeout:
      return ConnectionError::kHandshakeTimeout;
    case HandshakeError::kEof:
      return ConnectionError::kHandshakeEof;
    case HandshakeError::kNoCertificate:
      return ConnectionError::kNoCertificate;
    case HandshakeError::kClientCertificate:
      return ConnectionError::kClientCertificate;
    case HandshakeError::kDenied:
      return ConnectionError::kDenied;
    case HandshakeError::kAdmissionDenied:
      return ConnectionError::kAdmissionRefused;
    case HandshakeError::kHookError:
      return ConnectionError::kHookError;
    default:
      return ConnectionError::kHandshakeFailed;
  }
}

const char* ConnectionRecord::outcomeText() const {
  if (error != ConnectionError::kNone) return toString(error);
  if (outcome == stats::Outcome::kTunnel) return "tunnel";
  return outcome == stats::Outcome::kError ? "error" : "done";
}

namespace {

const char* routeName(const std::optional<EndpointKind>& kind) {
  if (!kind) return nullptr;
  switch (*kind) {
    case EndpointKind::kInspect:
      return "inspect";
    case EndpointKind::kRelay:
      return "relay";
    case EndpointKind::kOriginTls:
      return "origin_tls";
    case EndpointKind::kTunnel:
      return "tunnel";
  }
  return nullptr;
}

// ISO-8601 UTC with milliseconds: 2024-05-01T12:34:56.789Z.
std::string isoTime(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];  // room for any int the compiler imagines
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

void appendMs(std::string& out, std::chrono::microseconds us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(us.count()) / 1000.0);
  out += buf;
}

void appendField(std::string& out, const char* name, const char* value) {
  out += ", \"";
  out += name;
  out += "\": ";
  json::appendStringOrNull(out, value ? value : "");
}

}  // namespace

std::string ConnectionRecord::toJsonLine(const net::Address& client, const net::Address& local,
                                         std::chrono::system_clock::time_point now) const {
  std::string out;
  out.reserve(512);
  out += "{\"time\": ";
  json::appendString(out, isoTime(now));
  appendField(out, "client", client.toString().c_str());
  appendField(out, "local", local.toString().c_str());
  appendField(out, "sni", sni.c_str());
  appendField(out, "alpn", alpn.c_str());
  appendField(out, "ja4", ja4.c_str());
  appendField(out, "tls_version", version);
  appendField(out, "cipher", cipher);
  appendField(out, "group", group.c_str());
  out += helloRetry ? ", \"hello_retry\": true" : ", \"hello_retry\": false";
  out += ", \"certificate\": ";
  if (cert) {
    out += "{\"subject\": ";
    json::appendString(out, cert->subject);
    out += ", \"file\": ";
    json::appendString(out, cert->file);
    out += '}';
  } else {
    out += "null";
  }
  appendField(out, "route", routeName(route));
  appendField(out, "upstream", upstream.c_str());
  appendField(out, "outcome", outcomeText());
  appendField(out, "class", stats::toString(outcome));
  out += ", \"handshake_ms\": ";
  if (handshakeDone)
    appendMs(out, handshakeTime);
  else
    out += "null";
  out += ", \"total_ms\": ";
  appendMs(out, std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - start));
  out += ", \"bytes_in\": " + std::to_string(bytesIn);
  out += ", \"bytes_out\": " + std::to_string(bytesOut);
  out += "}\n";
  return out;
}

}  // namespace tlsgate::proxy
