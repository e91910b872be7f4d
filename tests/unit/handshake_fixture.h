// HandshakeFixture: a client SSL and a ServerHandshake wired through an in-memory BIO pair,
// over a certificate store with a.test (line 1) and optionally a default (line 2). Its
// owner serves what the store selects for the name (S11's lookup), unless a test scripts
// another answer.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <set>

#include "test_pki.h"
#include "tls/server_handshake.h"

namespace tlsgate::tls {

using testing::TestPki;

// The owner of the fixture's handshakes.
class TestOwner final : public HandshakeOwner {
 public:
  ServeChoice onClientHello(ClientHelloFacts hello) override {
    ++calls;
    seenSni = hello.sni;
    seen = hello;
    if (script) return *script;
    ServeChoice c;
    c.entry = store->findByName(hello.sni);
    c.sniMissed = !c.entry && !hello.sni.empty();
    if (!c.entry) c.entry = store->select({}, local);
    c.settings = settings;
    if (!c.entry) {
      c.kind = ServeChoice::Kind::kRefuse;
      c.alert = SSL_AD_INTERNAL_ERROR;
      c.error = HandshakeError::kNoCertificate;
      c.reason = "no certificate";
    }
    return c;
  }

  const CertStore* store = nullptr;
  net::Address local;
  std::optional<ServeChoice> script;  // answered instead of the store's choice
  NameSettings settings;              // served with the store's choice
  int calls = 0;
  std::string seenSni;
  ClientHelloFacts seen;  // the last ClientHello's facts
};

class HandshakeFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new TestPki();
    a_ = pki_->issue("a", "a.test", {"a.test"});
    def_ = pki_->issue("default", "default.test", {});
  }
  static void TearDownTestSuite() { delete pki_; }

  void buildStore(bool withDefault) {
    std::vector<tls::CertSpec> entries(1);
    entries[0].line = 1;
    entries[0].certFiles = {a_.certFile};
    entries[0].keyFiles = {a_.keyFile};
    if (withDefault) {
      tls::CertSpec d;
      d.line = 2;
      d.certFiles = {def_.certFile};
      d.keyFiles = {def_.keyFile};
      d.destIp = tls::DestIp{true, {}, false};
      entries.push_back(d);
    }
    params_.alpnWire = alpnToWire({"h2", "http/1.1"});
    auto store = CertStore::build(entries, "ssl_multicert.config", params_);
    ASSERT_TRUE(store.ok()) << store.error().toString();
    store_ = std::move(store.value());
  }

  // Wires a client SSL and a ServerHandshake through a BIO pair with `bufSize`-byte
  // buffers (1 = every suspension point is hit, one byte at a time).
  void connect(const char* sni, size_t bufSize = 0, const char* clientAlpn = nullptr) {
    BIO* serverBio = nullptr;
    BIO* clientBio = nullptr;
    ASSERT_EQ(BIO_new_bio_pair(&serverBio, bufSize, &clientBio, bufSize), 1);
    clientCtx_.reset(SSL_CTX_new(TLS_client_method()));
    client_.reset(SSL_new(clientCtx_.get()));
    if (sni) SSL_set_tlsext_host_name(client_.get(), sni);
    if (clientAlpn) {
      std::string wire = alpnToWire({clientAlpn});
      SSL_set_alpn_protos(client_.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                          wire.size());
    }
    SSL_set_bio(client_.get(), clientBio, clientBio);
    SSL_set_connect_state(client_.get());
    owner_.store = store_.get();
    owner_.local = local_;
    server_ = std::make_unique<ServerHandshake>(*store_, params_, ossl::UniquePtr<BIO>(serverBio),
                                                local_, peer_, counters_, owner_, hooks_);
  }

  static bool over(HandshakeState s) {
    return s == HandshakeState::kDone || s == HandshakeState::kFailed ||
           s == HandshakeState::kStopped;
  }

  // Runs both sides until the server's handshake is over or a hook holds it (the wait
  // returned: kHook), or no progress is possible.
  HandshakeWait run(std::set<HandshakeWait>* waits = nullptr) {
    for (int i = 0; i < 100000; ++i) {
      if (SSL_is_init_finished(client_.get())) {
        char byte;  // drain the TLS 1.3 session tickets the server sends at the end
        SSL_read(client_.get(), &byte, 1);
      } else {
        SSL_do_handshake(client_.get());
      }
      HandshakeWait w = server_->advance();
      if (waits) waits->insert(w);
      if (over(server_->state()) || w == HandshakeWait::kHook) return w;
    }
    ADD_FAILURE() << "handshake made no progress";
    return HandshakeWait::kNone;
  }

  static inline TestPki* pki_ = nullptr;
  static inline testing::TestCert a_, def_;
  ServerParams params_;
  std::unique_ptr<CertStore> store_;
  net::Address local_ = *net::parseAddress("127.0.0.1:8443", true);
  net::Address peer_ = *net::parseAddress("127.0.0.1:50000", true);
  stats::CounterBlock counters_;
  HandshakeHooks* hooks_ = nullptr;
  TestOwner owner_;
  ossl::UniquePtr<SSL_CTX> clientCtx_;
  ossl::UniquePtr<SSL> client_;
  std::unique_ptr<ServerHandshake> server_;
};

}  // namespace tlsgate::tls
