// ClientConnection's record: what the handshake negotiated (counted in the series), the
// bytes of the data phase, the close (per-listener outcome and the access log line), and
// the inspect endpoint's answer.
#include "core/access_log.h"
#include "core/json.h"
#include "proxy/client_connection.h"
#include "proxy/worker.h"
#include "tls/session_info.h"

namespace tlsgate::proxy {

using stats::Counter;

void ClientConnection::recordHandshake(const Handshaking& hs) {
  if (record_.handshakeRecorded) return;
  record_.handshakeRecorded = true;
  // The name, once TLS was to end here: a tunnel decided at the ClientHello never saw it.
  if (hs.route && route_.hello) record_.sni = route_.hello->sni;
  const tls::ServerHandshake& driver = hs.driver;
  SSL* ssl = driver.ssl();
  if (!ssl || driver.state() != tls::HandshakeState::kDone) return;
  record_.handshakeDone = true;
  record_.handshakeTime = driver.elapsed();
  const unsigned char* alpn = nullptr;
  unsigned alpnLen = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpnLen);
  if (alpn) record_.alpn.assign(reinterpret_cast<const char*>(alpn), alpnLen);
  record_.version = SSL_get_version(ssl);
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  record_.cipher = cipher ? SSL_CIPHER_get_name(cipher) : nullptr;
  record_.group = tls::negotiatedGroup(ssl);
  record_.helloRetry = driver.helloRetried();
  record_.cert = driver.servedInfo(ssl);
  size_t cipherIndex = cipher ? stats::LabelIndex::ciphers().indexOf(
                                    SSL_CIPHER_get_protocol_id(cipher), record_.cipher)
                              : 0;
  size_t groupIndex =
      record_.group.empty()
          ? 0
          : stats::LabelIndex::groups().indexOf(
                static_cast<uint32_t>(SSL_get_negotiated_group(ssl)), record_.group);
  counters().series.handshakeDone(static_cast<uint64_t>(record_.handshakeTime.count()),
                                  SSL_version(ssl), cipherIndex, groupIndex);
}

void ClientConnection::noteDataPhaseEnd() {
  if (auto* hs = std::get_if<Handshaking>(&phase_)) {
    recordHandshake(*hs);  // a timeout or a shutdown mid-handshake
  } else if (auto* r = std::get_if<Relaying>(&phase_)) {
    record_.bytesIn = r->relay.bytesToUpstream();
    record_.bytesOut = r->relay.bytesToClient();
  } else if (auto* in = std::get_if<Inspecting>(&phase_)) {
    record_.bytesIn = in->responder.bytesIn();
    record_.bytesOut = in->responder.bytesOut();
  } else if (auto* t = std::get_if<Tunneling>(&phase_)) {
    record_.bytesIn = t->tunnel.bytesToDestination();
    record_.bytesOut = t->tunnel.bytesToClient();
  }
}

void ClientConnection::recordClose() {
  if (listenerStats_)
    listenerStats_->closed(worker_.id(), record_.outcome, record_.bytesIn, record_.bytesOut);
  AccessLog* log = AccessLog::active();
  if (!log) return;
  // Copied only for the log: the facts of the ClientHello stay until the connection goes
  // (with the hooks' runner when a CLIENT_HELLO hook ended the handshake before the route).
  if (route_.hello)
    record_.ja4 = route_.hello->ja4;
  else if (const char* ja4 = hooks_ ? hooks_->ja4() : nullptr)
    record_.ja4 = ja4;
  std::string line =
      record_.toJsonLine(route_.peer, route_.local, std::chrono::system_clock::now());
  if (!log->append(static_cast<size_t>(worker_.id()), line))
    counters().add(Counter::kAccessLogDropped);
}

std::string ClientConnection::inspectBody(std::chrono::microseconds handshakeTime) const {
  tls::SessionInfo s = tls::describeSession(ssl_.get(), record_.cert);
  std::string out = "{\"sni\": ";
  json::appendStringOrNull(out, s.sni);
  out += ", \"alpn\": ";
  json::appendStringOrNull(out, s.alpn);
  out += ", \"ja4\": ";
  json::appendStringOrNull(out, route_.hello ? std::string_view(route_.hello->ja4) : "");
  out += ", \"version\": ";
  json::appendString(out, s.version);
  out += ", \"cipher\": ";
  json::appendString(out, s.cipher);
  out += ", \"group\": ";
  json::appendStringOrNull(out, s.group);
  out += record_.helloRetry ? ", \"hello_retry\": true" : ", \"hello_retry\": false";
  out += ", \"certificate\": {\"subject\": ";
  json::appendString(out, s.certSubject);
  out += ", \"sha256\": ";
  json::appendString(out, s.certSha256);
  out += "}, \"client\": ";
  json::appendString(out, route_.peer.toString());
  out += ", \"local\": ";
  json::appendString(out, route_.local.toString());
  char ms[64];
  std::snprintf(ms, sizeof ms, "%.3f", handshakeTime.count() / 1000.0);
  out += ", \"handshake_ms\": ";
  out += ms;
  out += ", \"resumed\": ";
  out += s.resumed ? "true" : "false";
  out += "}\n";
  return out;
}

}  // namespace tlsgate::proxy
