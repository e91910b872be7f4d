// The fixture of the route decision's tests of certificates served beside
// ssl_multicert.config (the ACME client's, the on-demand directory's): a store whose line 1
// is a.test, line 2 *.w.test and line 3 the default, a snapshot without rules, and a
// ClientHello from 127.0.0.1 to 127.0.0.1:8443. No sockets.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "proxy/route_decision.h"
#include "test_pki.h"
#include "tls/groups.h"

namespace tlsgate::proxy {

class MulticertRouteFixture : public ::testing::Test {
 protected:
  // A derived suite that needs more certificates calls this first, then issues them.
  static void SetUpTestSuite() {
    pki_ = new testing::TestPki();
    exact_ = pki_->issue("exact", "a.test", {"a.test"});
    wild_ = pki_->issue("wild", "*.w.test", {"*.w.test"});
    def_ = pki_->issue("default", "default.test", {});
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  void SetUp() override {
    std::vector<tls::CertSpec> specs(3);
    const testing::TestCert* files[] = {&exact_, &wild_, &def_};
    for (int i = 0; i < 3; ++i) {
      specs[i].line = i + 1;
      specs[i].certFiles = {files[i]->certFile};
      specs[i].keyFiles = {files[i]->keyFile};
    }
    specs[2].destIp = tls::DestIp{true, {}, false};
    params_.groups = tls::defaultGroups().server;
    auto store = tls::CertStore::build(specs, "ssl_multicert.config", params_);
    ASSERT_TRUE(store.ok()) << store.error().toString();
    snapshot_.certs = std::move(store.value());
    snapshot_.routes = std::make_unique<RouteTable>();
    snapshot_.routes->indexRules();
    snapshot_.listeners.resize(1);
    in_.listener = &snapshot_.listeners[0];
    in_.socketPeer = in_.peer = *net::parseAddress("127.0.0.1:50000", true);
    in_.local = *net::parseAddress("127.0.0.1:8443", true);
  }

  RouteDecision decideFor(const std::string& sni, const std::string& alpn = "") {
    in_.hello.emplace();
    in_.hello->sni = sni;
    in_.hello->alpn = alpn;
    return decide(in_, snapshot_);
  }
  Terminate terminate(const std::string& sni, const std::string& alpn = "") {
    RouteDecision d = decideFor(sni, alpn);
    EXPECT_TRUE(std::holds_alternative<Terminate>(d)) << "decision index " << d.index();
    return std::holds_alternative<Terminate>(d) ? std::get<Terminate>(d) : Terminate{};
  }

  static inline testing::TestPki* pki_ = nullptr;
  static inline testing::TestCert exact_, wild_, def_;
  tls::ServerParams params_;
  Snapshot snapshot_;
  RouteInputs in_;
};

}  // namespace tlsgate::proxy
