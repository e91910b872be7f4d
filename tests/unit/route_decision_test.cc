// The route decision as a table (proxy/route_decision.h): what decide() answers for each
// combination of listener, PROXY header, first byte, hook verdict and ClientHello, and what
// endpointFor() picks after the handshake (S5, S9, S10, S11, S14, sni.yaml). No sockets.
#include "proxy/route_decision.h"

#include <gtest/gtest.h>

#include "test_pki.h"
#include "tls/groups.h"

namespace tlsgate::proxy {
namespace {

using stats::Counter;
using testing::TestCert;
using testing::TestPki;

net::Address addr(const char* text) {
  return *net::parseAddress(text, true);
}

class RouteDecisionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new TestPki();
    a_ = pki_->issue("a", "a.test", {"a.test"});
    passed_ = pki_->issue("passed", "passed.test", {"passed.test"});
    def_ = pki_->issue("default", "default.test", {});
  }
  static void TearDownTestSuite() { delete pki_; }

  // Line 1: a.test; line 2: passed.test with action=tunnel; line 3: the default (if any);
  // line 4: dest_ip=10.0.0.9:443 action=tunnel.
  void SetUp() override { build(true); }

  void build(bool withDefault) {
    std::vector<tls::CertSpec> specs(2);
    specs[0].line = 1;
    specs[0].certFiles = {a_.certFile};
    specs[0].keyFiles = {a_.keyFile};
    specs[1].line = 2;
    specs[1].certFiles = {passed_.certFile};
    specs[1].keyFiles = {passed_.keyFile};
    specs[1].tunnel = true;
    tls::CertSpec ip;
    ip.line = 4;
    ip.certFiles = {def_.certFile};
    ip.keyFiles = {def_.keyFile};
    ip.destIp = tls::DestIp{false, addr("10.0.0.9:443"), true};
    ip.tunnel = true;
    if (withDefault) {
      tls::CertSpec d;
      d.line = 3;
      d.certFiles = {def_.certFile};
      d.keyFiles = {def_.keyFile};
      d.destIp = tls::DestIp{true, {}, false};
      specs.push_back(d);
    }
    specs.push_back(ip);
    params_.groups = tls::defaultGroups().server;
    auto store = tls::CertStore::build(specs, "ssl_multicert.config", params_);
    ASSERT_TRUE(store.ok()) << store.error().toString();
    snapshot_.certs = std::move(store.value());
    snapshot_.routes = std::make_unique<RouteTable>();
    snapshot_.listeners.resize(1);
    snapshot_.listeners[0].address = addr("127.0.0.1:8443");
    in_ = RouteInputs{};
    in_.listener = &snapshot_.listeners[0];
    in_.socketPeer = in_.peer = addr("127.0.0.1:50000");
    in_.local = addr("127.0.0.1:8443");
    in_.listenerPort = 8443;
  }

  NameRule& addRule(const std::string& fqdn) {
    NameRule r;
    r.line = static_cast<int>(snapshot_.routes->rules.size()) + 1;
    r.fqdn = fqdn;
    snapshot_.routes->rules.push_back(std::move(r));
    return snapshot_.routes->rules.back();
  }

  void hello(const std::string& sni) {
    in_.hello.emplace();
    in_.hello->sni = sni;
  }

  RouteDecision decideNow() {
    snapshot_.routes->indexRules();
    return decide(in_, snapshot_);
  }

  static inline TestPki* pki_ = nullptr;
  static inline TestCert a_, passed_, def_;
  tls::ServerParams params_;
  Snapshot snapshot_;
  RouteInputs in_;
};

template <class T>
const T& as(const RouteDecision& d) {
  EXPECT_TRUE(std::holds_alternative<T>(d)) << "decision index " << d.index();
  static const T none{};
  return std::holds_alternative<T>(d) ? std::get<T>(d) : none;
}

TEST_F(RouteDecisionTest, AnOrdinaryListenerWaitsForTheClientHello) {
  EXPECT_EQ(as<NeedMore>(decideNow()).what, NeedMore::What::kClientHello);
}

TEST_F(RouteDecisionTest, ProxyHeaderFromASourceNotAllowedIsRefused) {
  snapshot_.listeners[0].proxyProtocol = true;
  ASSERT_TRUE(snapshot_.listeners[0].proxyProtocolFrom.add("10.0.0.0/8").ok());
  RouteDecision rDecision = decideNow();
  const Refuse& r = as<Refuse>(rDecision);
  EXPECT_EQ(r.error, ConnectionError::kProxyRefused);
  EXPECT_EQ(r.counter, Counter::kProxyProtocolRefused);
  EXPECT_EQ(r.alert, 0);
}

TEST_F(RouteDecisionTest, ProxyHeaderFromAnAllowedSourceIsReadFirst) {
  snapshot_.listeners[0].proxyProtocol = true;
  ASSERT_TRUE(snapshot_.listeners[0].proxyProtocolFrom.add("127.0.0.1").ok());
  EXPECT_EQ(as<NeedMore>(decideNow()).what, NeedMore::What::kProxyHeader);
  in_.proxyHeaderRead = true;
  EXPECT_EQ(as<NeedMore>(decideNow()).what, NeedMore::What::kClientHello);
}

TEST_F(RouteDecisionTest, S5DestinationEntryWithTunnelOnATransparentListener) {
  snapshot_.listeners[0].transparent = true;
  in_.local = addr("10.0.0.9:443");
  RouteDecision tDecision = decideNow();
  const Tunnel& t = as<Tunnel>(tDecision);
  EXPECT_EQ(t.destination, "") << "the original destination";
  EXPECT_EQ(t.cause, Counter::kDestIpTunnels);
  // Not transparent: the entry is served like any other, after the ClientHello.
  snapshot_.listeners[0].transparent = false;
  EXPECT_EQ(as<NeedMore>(decideNow()).what, NeedMore::What::kClientHello);
}

TEST_F(RouteDecisionTest, S9FirstByteDecidesOnAPassThroughListener) {
  snapshot_.listeners[0].passthrough = true;
  snapshot_.listeners[0].transparent = true;
  EXPECT_EQ(as<NeedMore>(decideNow()).what, NeedMore::What::kFirstByte);
  in_.firstByte = 0x16;
  EXPECT_EQ(as<NeedMore>(decideNow()).what, NeedMore::What::kClientHello);
  in_.firstByte = 'G';
  RouteDecision tDecision = decideNow();
  const Tunnel& t = as<Tunnel>(tDecision);
  EXPECT_EQ(t.destination, "");
  EXPECT_EQ(t.cause, Counter::kPassthroughTunnels);
}

TEST_F(RouteDecisionTest, TheOriginalDestinationOfAnOrdinaryListenerIsRefused) {
  snapshot_.listeners[0].passthrough = true;
  in_.firstByte = 'G';
  RouteDecision rDecision = decideNow();
  const Refuse& r = as<Refuse>(rDecision);
  EXPECT_EQ(r.error, ConnectionError::kNoTunnelDestination);
  EXPECT_TRUE(r.warn);
  // A PROXY header names where the client was going: there it goes.
  in_.proxyProtocolPort = 9443;
  in_.local = addr("192.0.2.10:9443");
  EXPECT_EQ(as<Tunnel>(decideNow()).destination, "");
}

TEST_F(RouteDecisionTest, S10AHookTunnelOrTerminateDecides) {
  in_.hook = {HookRequest::Kind::kTunnel, "10.0.0.5:443"};
  RouteDecision tDecision = decideNow();
  const Tunnel& t = as<Tunnel>(tDecision);
  EXPECT_EQ(t.destination, "10.0.0.5:443");
  EXPECT_FALSE(t.cause) << "a hook's tunnel is counted by the handshake";
  hello("a.test");  // also after the ClientHello (a CERT hook)
  EXPECT_EQ(as<Tunnel>(decideNow()).destination, "10.0.0.5:443");
  in_.hook = {HookRequest::Kind::kTerminate, {}};
  EXPECT_EQ(as<Refuse>(decideNow()).error, ConnectionError::kHookTerminated);
}

TEST_F(RouteDecisionTest, S11NameThenDefault) {
  hello("a.test");
  RouteDecision tDecision = decideNow();
  const Terminate& t = as<Terminate>(tDecision);
  ASSERT_NE(t.entry, nullptr);
  EXPECT_EQ(t.entry->line, 1);
  EXPECT_FALSE(t.sniMissed);
  EXPECT_EQ(t.rule, nullptr);
  hello("unknown.test");
  RouteDecision dDecision = decideNow();
  const Terminate& d = as<Terminate>(dDecision);
  ASSERT_NE(d.entry, nullptr);
  EXPECT_EQ(d.entry->line, 3);
  EXPECT_TRUE(d.sniMissed);
  hello("");
  EXPECT_FALSE(as<Terminate>(decideNow()).sniMissed) << "no name sent: nothing missed";
}

TEST_F(RouteDecisionTest, S11DestinationAddressBeforeTheDefault) {
  in_.local = addr("10.0.0.9:443");
  hello("unknown.test");
  RouteDecision tDecision = decideNow();
  const Terminate& t = as<Terminate>(tDecision);
  ASSERT_NE(t.entry, nullptr);
  EXPECT_EQ(t.entry->line, 4) << "not transparent: the tunnel entry is served";
}

TEST_F(RouteDecisionTest, S11NoCertificateIsRefusedWithAnAlert) {
  build(/*withDefault=*/false);
  hello("unknown.test");
  RouteDecision rDecision = decideNow();
  const Refuse& r = as<Refuse>(rDecision);
  EXPECT_EQ(r.error, ConnectionError::kNoCertificate);
  EXPECT_EQ(r.alert, SSL_AD_INTERNAL_ERROR);
  EXPECT_EQ(r.handshakeError, tls::HandshakeError::kNoCertificate);
}

TEST_F(RouteDecisionTest, S11TunnelEntryOfANameOnATransparentListener) {
  snapshot_.listeners[0].transparent = true;
  hello("passed.test");
  RouteDecision tDecision = decideNow();
  const Tunnel& t = as<Tunnel>(tDecision);
  EXPECT_EQ(t.destination, "");
  EXPECT_EQ(t.cause, Counter::kDestIpTunnels);
  snapshot_.listeners[0].transparent = false;
  EXPECT_EQ(as<Terminate>(decideNow()).entry->line, 2) << "elsewhere it is served";
}

TEST_F(RouteDecisionTest, SniYamlIpAllowRefusesOtherSources) {
  NameRule& r = addRule("a.test");
  r.ipAllow.emplace();
  ASSERT_TRUE(r.ipAllow->add("10.0.0.0/8").ok());
  hello("a.test");
  RouteDecision refuseDecision = decideNow();
  const Refuse& refuse = as<Refuse>(refuseDecision);
  EXPECT_EQ(refuse.error, ConnectionError::kDenied);
  EXPECT_EQ(refuse.alert, SSL_AD_ACCESS_DENIED);
  EXPECT_EQ(refuse.handshakeError, tls::HandshakeError::kDenied);
  in_.peer = addr("10.1.2.3:40000");  // a PROXY header's client counts, not the socket's
  EXPECT_EQ(as<Terminate>(decideNow()).rule->line, 1);
}

TEST_F(RouteDecisionTest, SniYamlTunnelRouteExpandsCapturesAndPorts) {
  NameRule& r = addRule("*.cap.test");
  r.action = Endpoint{};
  r.action->kind = EndpointKind::kTunnel;
  r.action->destination = "$1.internal:{inbound_local_port}";
  r.action->sendProxyProtocol = 2;
  hello("App.cap.test");
  RouteDecision tDecision = decideNow();
  const Tunnel& t = as<Tunnel>(tDecision);
  EXPECT_EQ(t.destination, "app.internal:8443");
  EXPECT_EQ(t.sendProxyProtocol, 2);
  EXPECT_EQ(t.cause, Counter::kSniTunnels);
  r.action->destination = "backend:{proxy_protocol_port}";  // no PROXY header here
  RouteDecision refuseDecision = decideNow();
  const Refuse& refuse = as<Refuse>(refuseDecision);
  EXPECT_EQ(refuse.alert, SSL_AD_INTERNAL_ERROR);
  EXPECT_TRUE(refuse.warn);
}

TEST_F(RouteDecisionTest, SniYamlRulesComeBeforeTheCertificate) {
  NameRule& r = addRule("passed.test");
  r.action = Endpoint{};
  r.action->kind = EndpointKind::kTunnel;
  r.action->destination = "10.0.0.7:443";
  snapshot_.listeners[0].transparent = true;
  hello("passed.test");
  EXPECT_EQ(as<Tunnel>(decideNow()).destination, "10.0.0.7:443");
}

TEST_F(RouteDecisionTest, S14EndpointByProtocolThenCatchAll) {
  Endpoint h2;
  h2.kind = EndpointKind::kRelay;
  h2.destination = "127.0.0.1:9001";
  h2.address = addr("127.0.0.1:9001");
  snapshot_.routes->alpn.emplace_back("h2", h2);
  NameRule& r = addRule("a.test");
  Endpoint forward;
  forward.kind = EndpointKind::kRelay;
  forward.destination = "$1:80";  // no capture for an exact name: refused per connection
  r.action = forward;
  hello("a.test");
  RouteDecision tDecision = decideNow();
  Terminate t = as<Terminate>(tDecision);
  EXPECT_EQ(endpointFor(t, "h2", in_, snapshot_).destination, "127.0.0.1:9001");
  EXPECT_FALSE(endpointFor(t, "", in_, snapshot_).refusal.empty());
  t.rule = nullptr;  // no item: routes.default, which is not set
  EXPECT_EQ(endpointFor(t, "", in_, snapshot_).refusal,
            "no default endpoint (routes.default) and no ALPN");
  EXPECT_EQ(endpointFor(t, "spdy/1", in_, snapshot_).refusal,
            "no endpoint registered for 'spdy/1'");
  snapshot_.routes->defaultEndpoint = Endpoint{};  // builtin:inspect
  EXPECT_EQ(endpointFor(t, "spdy/1", in_, snapshot_).kind, EndpointKind::kInspect);
}

}  // namespace
}  // namespace tlsgate::proxy
