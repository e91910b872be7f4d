#include "tls/wire_trace.h"

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/log.h"
#include "tls/client_hello.h"
#include "tls/session_info.h"

namespace tlsgate::tls {

namespace {

// One traced session: who it is for the log, and, while a server_name filter waits for
// the ClientHello, the lines held until it is decided.
class WireTrace {
 public:
  WireTrace(std::string who, std::string awaitedName)
      : who_(std::move(who)), awaitedName_(std::move(awaitedName)) {}
  ~WireTrace() { helloRead({}); }
  WireTrace(const WireTrace&) = delete;
  WireTrace& operator=(const WireTrace&) = delete;

  const std::string& who() const { return who_; }
  // The server sent a HelloRetryRequest (seen by onMessage): said again at the end.
  void sawHelloRetry() { helloRetry_ = true; }
  bool helloRetry() const { return helloRetry_; }
  bool awaitingName() const { return !awaitedName_.empty(); }
  const std::string& awaitedName() const { return awaitedName_; }

  // OpenSSL reports a state again each time the handshake resumes in it: once is enough.
  void state(const char* name) {
    if (name == lastState_) return;
    lastState_ = name;
    line(std::string("state: ") + name);
  }

  // A ClientHello received: its line waits for the fingerprint, which the ClientHello
  // callback computes right after (helloRead); any other line first lets it go without.
  void holdHello(size_t bytes) {
    helloRead({});
    heldHelloBytes_ = bytes;
  }
  void helloRead(std::string_view ja4) {
    if (heldHelloBytes_ == 0) return;
    std::string text = "<- ClientHello (" + std::to_string(heldHelloBytes_) + " bytes";
    heldHelloBytes_ = 0;
    if (!ja4.empty()) text.append(", ja4 ").append(ja4);
    line(text + ")");
  }

  void line(std::string text) {
    helloRead({});
    if (awaitingName())
      held_.push_back(std::move(text));
    else
      log::info("wire_trace %s %s", who_.c_str(), text.c_str());
  }
  // The server name matched: the held lines go out, the next ones directly.
  void nameMatched() {
    awaitedName_.clear();
    for (std::string& text : held_) line(std::move(text));
    held_.clear();
  }

 private:
  std::string who_;
  std::string awaitedName_;
  std::vector<std::string> held_;
  const char* lastState_ = nullptr;  // OpenSSL's static string
  size_t heldHelloBytes_ = 0;        // the ClientHello whose line waits (0: none)
  bool helloRetry_ = false;
};

void freeTrace(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<WireTrace*>(ptr);
}

int traceIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, freeTrace);
  return index;
}

WireTrace* traceOf(const SSL* ssl) {
  return static_cast<WireTrace*>(SSL_get_ex_data(ssl, traceIndex()));
}

const char* handshakeName(const unsigned char* msg, size_t len) {
  // TLS 1.3's HelloRetryRequest is a ServerHello with this random (RFC 8446 4.1.3).
  static const unsigned char kHrrRandom[32] = {0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11,
                                               0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
                                               0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
                                               0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};
  if (len == 0) return "empty handshake message";
  switch (msg[0]) {
    case SSL3_MT_HELLO_REQUEST:
      return "HelloRequest";
    case SSL3_MT_CLIENT_HELLO:
      return "ClientHello";
    case SSL3_MT_SERVER_HELLO:
      return len >= 38 && std::equal(kHrrRandom, kHrrRandom + 32, msg + 6) ? "HelloRetryRequest"
                                                                           : "ServerHello";
    case SSL3_MT_NEWSESSION_TICKET:
      return "NewSessionTicket";
    case SSL3_MT_END_OF_EARLY_DATA:
      return "EndOfEarlyData";
    case SSL3_MT_ENCRYPTED_EXTENSIONS:
      return "EncryptedExtensions";
    case SSL3_MT_CERTIFICATE:
      return "Certificate";
    case SSL3_MT_SERVER_KEY_EXCHANGE:
      return "ServerKeyExchange";
    case SSL3_MT_CERTIFICATE_REQUEST:
      return "CertificateRequest";
    case SSL3_MT_SERVER_DONE:
      return "ServerHelloDone";
    case SSL3_MT_CERTIFICATE_VERIFY:
      return "CertificateVerify";
    case SSL3_MT_CLIENT_KEY_EXCHANGE:
      return "ClientKeyExchange";
    case SSL3_MT_FINISHED:
      return "Finished";
    case SSL3_MT_CERTIFICATE_STATUS:
      return "CertificateStatus";
    case SSL3_MT_KEY_UPDATE:
      return "KeyUpdate";
    default:
      return nullptr;
  }
}

// At the end: "handshake done: TLSv1.3 TLS_AES_128_GCM_SHA256[, resumed]", then
// "key exchange: x25519mlkem768[, after a HelloRetryRequest]".
void traceDone(SSL* ssl, WireTrace& trace) {
  trace.line(std::string("handshake done: ") + SSL_get_version(ssl) + " " +
             SSL_get_cipher_name(ssl) + (SSL_session_reused(ssl) ? ", resumed" : ""));
  std::string group = negotiatedGroup(ssl);
  trace.line("key exchange: " + (group.empty() ? std::string("none") : group) +
             (trace.helloRetry() ? ", after a HelloRetryRequest" : ""));
}

// STYLE rule 7: the two OpenSSL callbacks forward to the session's WireTrace.
void onMessage(int writeP, int, int contentType, const void* buf, size_t len, SSL*, void* arg) {
  auto* trace = static_cast<WireTrace*>(arg);
  const char* name = nullptr;
  if (contentType == SSL3_RT_HANDSHAKE)
    name = handshakeName(static_cast<const unsigned char*>(buf), len);
  else if (contentType == SSL3_RT_CHANGE_CIPHER_SPEC)
    name = "ChangeCipherSpec";
  else
    return;  // record headers, inner content types, application data; alerts: onInfo
  if (!writeP && contentType == SSL3_RT_HANDSHAKE && len > 0 && buf &&
      static_cast<const unsigned char*>(buf)[0] == SSL3_MT_CLIENT_HELLO) {
    trace->holdHello(len);
    return;
  }
  std::string text = writeP ? "-> " : "<- ";
  if (name && std::string_view(name) == "HelloRetryRequest") trace->sawHelloRetry();
  if (name) {
    text += name;
  } else {
    text += "handshake message type ";
    text += std::to_string(static_cast<const unsigned char*>(buf)[0]);
  }
  text += " (" + std::to_string(len) + " bytes)";
  trace->line(std::move(text));
}

void onInfo(const SSL* ssl, int where, int ret) {
  if (WireTrace* trace = traceOf(ssl)) {
    if (where & SSL_CB_ALERT)
      trace->line(std::string("alert ") + ((where & SSL_CB_WRITE) ? "-> " : "<- ") +
                  SSL_alert_type_string_long(ret) + " " + SSL_alert_desc_string_long(ret));
    else if (where & SSL_CB_HANDSHAKE_START)
      trace->line("handshake start");
    else if (where & SSL_CB_HANDSHAKE_DONE)
      traceDone(const_cast<SSL*>(ssl), *trace);
    else if (where & SSL_CB_LOOP)
      trace->state(SSL_state_string_long(ssl));
    else if ((where & SSL_CB_EXIT) && ret == 0)
      trace->line(std::string("failed in state: ") + SSL_state_string_long(ssl));
  }
  // The session's own callback replaces the context's: call the context's too (S12).
  if (auto* ctxInfo = SSL_CTX_get_info_callback(SSL_get_SSL_CTX(ssl))) ctxInfo(ssl, where, ret);
}

void attach(SSL* ssl, std::unique_ptr<WireTrace> trace) {
  WireTrace* raw = trace.release();
  SSL_set_ex_data(ssl, traceIndex(), raw);  // the SSL owns it from here (freeTrace)
  SSL_set_msg_callback(ssl, onMessage);
  SSL_set_msg_callback_arg(ssl, raw);
  SSL_set_info_callback(ssl, onInfo);
}

void detach(SSL* ssl) {
  WireTrace* trace = traceOf(ssl);
  SSL_set_msg_callback(ssl, nullptr);
  SSL_set_msg_callback_arg(ssl, nullptr);
  SSL_set_info_callback(ssl, nullptr);  // back to the context's
  SSL_set_ex_data(ssl, traceIndex(), nullptr);
  delete trace;
}

bool sampled(unsigned percentage) {
  if (percentage >= 100) return true;
  if (percentage == 0) return false;
  thread_local std::minstd_rand rng{std::random_device{}()};
  return rng() % 100 < percentage;
}

}  // namespace

void startWireTrace(SSL* ssl, const WireTraceFilter& filter, const net::Address& peer,
                    const net::Address& local) {
  // S21: the client address and the sampling now; the server name at the ClientHello.
  if (filter.clientIp && !filter.clientIp->contains(peer)) return;
  if (!sampled(filter.percentage)) return;
  auto trace = std::make_unique<WireTrace>(peer.toString(), filter.serverName);
  trace->line("begins (local " + local.toString() + ")");
  attach(ssl, std::move(trace));
}

void wireTraceClientHello(SSL* ssl, const std::string& sni, std::string_view ja4) {
  WireTrace* trace = traceOf(ssl);
  if (!trace) return;
  trace->helloRead(ja4);
  if (!trace->awaitingName()) return;
  if (sni == trace->awaitedName())
    trace->nameMatched();
  else
    detach(ssl);  // not this one: its held lines go unprinted
}

void traceOriginOf(const SSL* client, SSL* origin, const net::Address& originAddress) {
  const WireTrace* trace = traceOf(client);
  if (!trace || trace->awaitingName()) return;
  auto originTrace =
      std::make_unique<WireTrace>(trace->who() + " origin " + originAddress.toString(), "");
  originTrace->line("begins");
  attach(origin, std::move(originTrace));
}

}  // namespace tlsgate::tls
