#include "config/snapshot.h"

#include "config/multicert.h"

namespace tlsgate::config {

namespace {

tls::ServerParams serverParamsOf(const SslConfig& ssl) {
  tls::ServerParams p;
  p.minVersion = ssl.minVersion == TlsVersion::kTls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
  p.maxVersion = ssl.maxVersion == TlsVersion::kTls12 ? TLS1_2_VERSION : TLS1_3_VERSION;
  if (!ssl.ciphers.empty()) p.ciphers = ssl.ciphers;
  if (!ssl.ciphersuites.empty()) p.ciphersuites = ssl.ciphersuites;
  if (!ssl.groups.empty()) p.groups = ssl.groups;
  p.alpnWire = tls::alpnToWire(ssl.alpn);
  p.allowClientRenegotiation = ssl.allowClientRenegotiation;
  p.handshakeTimeout = std::chrono::seconds(ssl.handshakeTimeoutSec);
  if (ssl.verifyClient != VerifyClient::kNone) {
    p.verifyClientMode = SSL_VERIFY_PEER;
    if (ssl.verifyClient == VerifyClient::kStrict) p.verifyClientMode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    p.clientCaFile = ssl.verifyClientCaCerts;
  }
  return p;
}

}  // namespace

Result<std::shared_ptr<const Snapshot>> buildSnapshot(const std::string& yamlPath) {
  auto cfg = loadGatewayConfig(yamlPath);
  if (!cfg) return cfg.error();
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->config = std::move(cfg.value());
  snapshot->serverParams = serverParamsOf(snapshot->config.ssl);

  const std::string& multicertPath = snapshot->config.ssl.multicertPath;
  auto entries = loadMulticert(multicertPath);
  if (!entries) return entries.error();
  auto store = tls::CertStore::build(*entries, multicertPath, snapshot->serverParams);
  if (!store) {
    Error e = store.error();
    // A bad cipher/group setting is about tlsgate.yaml, not about a certificate line.
    if (e.file.empty()) e = Error{yamlPath, snapshot->config.ssl.multicertLine, e.message};
    return e;
  }
  snapshot->certs = std::move(store.value());
  return std::shared_ptr<const Snapshot>(std::move(snapshot));
}

}  // namespace tlsgate::config
