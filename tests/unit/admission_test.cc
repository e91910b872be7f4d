// Admission control's parts that need no socket: the token bucket (with a fake clock), the
// rules' matching, the source keys, load shedding's threshold, and the admission section's
// parsing and errors (file:line).
#include <gtest/gtest.h>

#include <chrono>

#include "config/gateway_config.h"
#include "core/token_bucket.h"
#include "gateway_config_helpers.h"
#include "proxy/admission_rules.h"
#include "proxy/load_shedder.h"
#include "proxy/rule_buckets.h"
#include "proxy/source_table.h"

namespace tlsgate {
namespace {

using namespace std::chrono_literals;
using Clock = TokenBucket::Clock;
using proxy::AdmissionRule;

TEST(TokenBucket, StartsFullSpendsAndRefillsWithTime) {
  const RateLimit limit{2, 3};  // 2 a second, 3 saved up
  const Clock::time_point t0{};
  TokenBucket b(limit, t0);
  EXPECT_TRUE(b.take(limit, t0));
  EXPECT_TRUE(b.take(limit, t0));
  EXPECT_TRUE(b.take(limit, t0));
  EXPECT_FALSE(b.take(limit, t0));          // the burst is spent
  EXPECT_FALSE(b.take(limit, t0 + 400ms));  // 0.8 of a token
  EXPECT_TRUE(b.take(limit, t0 + 500ms));   // one token after half a second
  EXPECT_FALSE(b.take(limit, t0 + 500ms));
  // Ten seconds idle: full again, never more than the burst.
  EXPECT_TRUE(b.fullAt(limit, t0 + 10s));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(b.take(limit, t0 + 10s));
  EXPECT_FALSE(b.take(limit, t0 + 10s));
}

TEST(TokenBucket, AClockThatGoesBackRefillsNothing) {
  const RateLimit limit{1, 1};
  const Clock::time_point t0 = Clock::time_point{} + 10s;
  TokenBucket b(limit, t0);
  EXPECT_TRUE(b.take(limit, t0));
  EXPECT_FALSE(b.take(limit, t0 - 5s));
  EXPECT_TRUE(b.take(limit, t0 + 1s));
}

TEST(RuleBuckets, KeysRulesAndKindsAreSeparate) {
  proxy::RuleBuckets buckets;
  const RateLimit one{1, 1};
  const Clock::time_point t0{};
  using Kind = proxy::RuleBuckets::Kind;
  EXPECT_TRUE(buckets.take(0, Kind::kHandshakes, "a", one, t0));
  EXPECT_FALSE(buckets.take(0, Kind::kHandshakes, "a", one, t0));
  EXPECT_TRUE(buckets.take(0, Kind::kHandshakes, "b", one, t0));   // another key
  EXPECT_TRUE(buckets.take(1, Kind::kHandshakes, "a", one, t0));   // another rule
  EXPECT_TRUE(buckets.take(0, Kind::kConnections, "a", one, t0));  // another kind
  EXPECT_TRUE(buckets.take(0, Kind::kHandshakes, "a", one, t0 + 1s));
}

TEST(RuleBuckets, AFloodOfKeysStaysBounded) {
  proxy::RuleBuckets buckets;
  const RateLimit limit{1, 5};
  const Clock::time_point t0{};
  using Kind = proxy::RuleBuckets::Kind;
  for (int i = 0; i < 400000; ++i)
    buckets.take(0, Kind::kHandshakes, "name" + std::to_string(i), limit, t0);
  EXPECT_LE(buckets.size(), proxy::RuleBuckets::kShards * proxy::RuleBuckets::kShardCapacity + 64);
}

TEST(AdmissionRules, FirstMatchWinsAndTheClientHelloDecidesWhatNeedsIt) {
  proxy::AdmissionSettings s;
  AdmissionRule bots;
  bots.line = 3;
  bots.ja4s = {"t13d1516h2_8daaf6152771_e5627efa2ab1"};
  bots.action = AdmissionRule::Action::kDeny;
  AdmissionRule office;
  office.line = 5;
  ASSERT_TRUE(office.sources.add("10.0.0.0/8"));
  office.action = AdmissionRule::Action::kAllow;
  AdmissionRule rest;
  rest.line = 7;
  rest.action = AdmissionRule::Action::kLimit;
  rest.handshakes = {10, 10};
  s.rules = {bots, office, rest};
  auto ip = [](const char* text) { return *net::parseAddress(text, false); };
  const net::Address listener = *net::parseAddress("127.0.0.1:443", true);
  // At accept a JA4 rule may match anyone: undecided.
  auto m = proxy::matchRule(s, ip("10.1.2.3"), listener, nullptr, nullptr);
  EXPECT_TRUE(m.undecided);
  EXPECT_EQ(m.rule, nullptr);
  // At the ClientHello: the fingerprint decides, else the next rules.
  std::string sni = "example.com", bot = "t13d1516h2_8daaf6152771_e5627efa2ab1", other = "x";
  m = proxy::matchRule(s, ip("10.1.2.3"), listener, &sni, &bot);
  ASSERT_NE(m.rule, nullptr);
  EXPECT_EQ(m.rule->line, 3);
  m = proxy::matchRule(s, ip("10.1.2.3"), listener, &sni, &other);
  ASSERT_NE(m.rule, nullptr);
  EXPECT_EQ(m.rule->line, 5);
  m = proxy::matchRule(s, ip("192.0.2.1"), listener, &sni, &other);
  ASSERT_NE(m.rule, nullptr);
  EXPECT_EQ(m.rule->line, 7);
  // Without the JA4 rule, the source decides at accept.
  s.rules.erase(s.rules.begin());
  m = proxy::matchRule(s, ip("10.1.2.3"), listener, nullptr, nullptr);
  ASSERT_NE(m.rule, nullptr);
  EXPECT_EQ(m.rule->line, 5);
  EXPECT_EQ(m.index, 0u);
}

TEST(AdmissionRules, NamesMatchExactlyOrByWildcard) {
  EXPECT_TRUE(proxy::nameMatches("example.com", "example.com"));
  EXPECT_FALSE(proxy::nameMatches("example.com", "www.example.com"));
  EXPECT_TRUE(proxy::nameMatches("*.example.com", "www.example.com"));
  EXPECT_TRUE(proxy::nameMatches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(proxy::nameMatches("*.example.com", "example.com"));
  EXPECT_FALSE(proxy::nameMatches("*.example.com", "wwwexample.com"));
}

TEST(SourceTable, KeysGroupSourcesByPrefix) {
  using T = proxy::SourceTable;
  auto key = [](const char* ip, uint32_t v4, uint32_t v6) {
    return T::keyOf(*net::parseAddress(ip, false), v4, v6);
  };
  EXPECT_EQ(key("192.0.2.1", 24, 64), key("192.0.2.200", 24, 64));
  EXPECT_NE(key("192.0.2.1", 32, 64), key("192.0.2.200", 32, 64));
  EXPECT_NE(key("192.0.2.1", 24, 64), key("192.0.3.1", 24, 64));
  EXPECT_EQ(key("2001:db8::1", 32, 64), key("2001:db8::ffff:1", 32, 64));
  EXPECT_NE(key("2001:db8:0:1::1", 32, 64), key("2001:db8:0:2::1", 32, 64));
  // A dual-stack socket's IPv4 client is the IPv4 source.
  EXPECT_EQ(key("::ffff:192.0.2.1", 32, 64), key("192.0.2.1", 32, 64));
}

TEST(SourceTable, BoundsPerSourceAndForgetsIdleSources) {
  proxy::SourceTable table;
  auto k = proxy::SourceTable::keyOf(*net::parseAddress("192.0.2.9", false), 32, 64);
  EXPECT_TRUE(table.enterHandshake(k, 2));
  EXPECT_TRUE(table.enterHandshake(k, 2));
  EXPECT_FALSE(table.enterHandshake(k, 2));
  EXPECT_EQ(table.handshakes.load(), 2u);
  table.leaveHandshake(k, true);
  EXPECT_TRUE(table.enterHandshake(k, 2));
  table.leaveHandshake(k, true);
  table.leaveHandshake(k, true);
  EXPECT_TRUE(table.enterConnection(k, 0));
  table.leaveConnection(k, false);
  EXPECT_EQ(table.size(), 0u);  // nothing held, no cost: forgotten
}

TEST(SourceTable, CostAddsUpAndHalvesEverySecond) {
  proxy::SourceTable table;
  auto k = proxy::SourceTable::keyOf(*net::parseAddress("192.0.2.9", false), 32, 64);
  const Clock::time_point t0 = Clock::time_point{} + 100s;
  double cost = 0;
  for (int i = 0; i < 100; ++i) cost = table.chargeFullHandshake(k, t0);
  EXPECT_DOUBLE_EQ(cost, 100);
  EXPECT_NEAR(table.chargeFullHandshake(k, t0 + 1s), 51, 1e-9);
  EXPECT_NEAR(table.chargeFullHandshake(k, t0 + 3s), 13.75, 1e-9);
  // Resumptions are kept beside the cost, decaying alike.
  EXPECT_EQ(table.standing(k, t0 + 3s).resumptions, 0);
  table.noteResumption(k, t0 + 3s);
  table.noteResumption(k, t0 + 3s);
  proxy::SourceTable::Standing st = table.standing(k, t0 + 4s);
  EXPECT_NEAR(st.resumptions, 1, 1e-9);
  EXPECT_NEAR(st.cost, 6.875, 1e-9);
}

TEST(LoadShedder, ShedsTheCostliestFirstAndStopsWhenTheyStopAsking) {
  proxy::LoadShedder shed;
  proxy::ShedSettings settings;
  settings.enabled = true;          // 10 ms of lag
  EXPECT_FALSE(shed.refuses(300));  // calm: nobody is refused; 300 is the top cost
  EXPECT_FALSE(shed.refuses(1));
  shed.sample(50ms, 10, settings);  // smoothed lag 25 ms: overloaded
  ASSERT_TRUE(shed.shedding());
  EXPECT_TRUE(shed.refuses(290));  // the flooding source
  EXPECT_FALSE(shed.refuses(20));  // a modest one, for now
  EXPECT_FALSE(shed.refuses(1));   // a new visitor, never
  for (int i = 0; i < 20; ++i) shed.sample(50ms, 10, settings);
  EXPECT_TRUE(shed.refuses(20));  // the overload lasts: the threshold came down
  EXPECT_FALSE(shed.refuses(1));
  EXPECT_DOUBLE_EQ(shed.threshold(), proxy::LoadShedder::kMinThreshold);
  // Calm, while the flooder keeps asking: the threshold stays under where the overload
  // came back, so the flooder stays out.
  for (int i = 0; i < 300; ++i) {
    shed.sample(0ms, 1, settings);
    EXPECT_TRUE(shed.refuses(290));
  }
  EXPECT_TRUE(shed.shedding());
  // The flooder stops asking: its cost decays under the threshold, shedding ends.
  for (int i = 0; i < 2000 && shed.shedding(); ++i) shed.sample(0ms, 1, settings);
  EXPECT_FALSE(shed.shedding());
  EXPECT_FALSE(shed.refuses(290));
}

TEST(LoadShedder, TheCalmRaisesTheThresholdBelowWhereTheOverloadCameBack) {
  proxy::LoadShedder shed;
  proxy::ShedSettings settings;
  settings.enabled = true;
  settings.maxHandshakes = 100;  // the backlog decides here: no smoothing in the way
  shed.refuses(1000);
  shed.sample(0ms, 200, settings);  // shedding from half the top (decayed by a tick)
  shed.refuses(1000);
  const double first = shed.threshold();
  EXPECT_NEAR(first, 500, 5);
  shed.sample(0ms, 200, settings);  // still overloaded there: that is the ceiling
  EXPECT_NEAR(shed.threshold(), first / 2, 1e-9);
  for (int i = 0; i < 100; ++i) {
    shed.sample(0ms, 1, settings);
    shed.refuses(1000);
  }
  EXPECT_NEAR(shed.threshold(), first * 0.9, 1e-9);  // back up to 90 % of it, not more
  EXPECT_TRUE(shed.refuses(first));
}

TEST(LoadShedder, HandshakeBacklogAloneCountsWhenConfigured) {
  proxy::LoadShedder shed;
  proxy::ShedSettings settings;
  settings.enabled = true;
  settings.maxHandshakes = 100;
  shed.sample(0ms, 100, settings);
  EXPECT_FALSE(shed.shedding());
  shed.sample(0ms, 101, settings);
  EXPECT_TRUE(shed.shedding());
  proxy::LoadShedder off;
  settings.enabled = false;
  off.sample(1s, 1000, settings);
  EXPECT_FALSE(off.shedding());
}

}  // namespace

namespace config {
namespace {

using namespace yaml_testing;

std::string withAdmission(const std::string& lines) {
  return kMinimal + "admission:\n" + lines;  // the first added line is line 8
}

TEST(AdmissionConfig, ParsesEveryKey) {
  auto c =
      parseOk(withAdmission("  source_prefix_v4: 24\n"
                            "  source_prefix_v6: 48\n"
                            "  max_connections: 1000\n"
                            "  max_handshakes: 200\n"
                            "  per_source_connections: 50\n"
                            "  per_source_handshakes: 20\n"
                            "  shed: {enabled: true, max_loop_lag_ms: 30, max_handshakes: 64}\n"
                            "  rules:\n"
                            "    - source: [10.0.0.0/8, 192.0.2.1]\n"
                            "      listener: 127.0.0.1:8443\n"
                            "      action: allow\n"
                            "    - sni: ['*.Example.com', api.example.com]\n"
                            "      ja4: t13d1516h2_8daaf6152771_e5627efa2ab1\n"
                            "      action: deny\n"
                            "      deny_with: alert\n"
                            "    - action: limit\n"
                            "      per: ja4\n"
                            "      connections_per_second: 0.5\n"
                            "      handshakes_per_second: 20\n"
                            "      handshake_burst: 40\n"));
  const proxy::AdmissionSettings& a = c.admission;
  EXPECT_EQ(a.sourcePrefixV4, 24u);
  EXPECT_EQ(a.sourcePrefixV6, 48u);
  EXPECT_EQ(a.maxConnections, 1000u);
  EXPECT_EQ(a.maxHandshakes, 200u);
  EXPECT_EQ(a.perSourceConnections, 50u);
  EXPECT_EQ(a.perSourceHandshakes, 20u);
  EXPECT_TRUE(a.shed.enabled);
  EXPECT_EQ(a.shed.maxLoopLag, std::chrono::milliseconds(30));
  EXPECT_EQ(a.shed.maxHandshakes, 64u);
  ASSERT_EQ(a.rules.size(), 3u);
  EXPECT_EQ(a.rules[0].line, 16);
  EXPECT_TRUE(a.rules[0].sources.contains(*net::parseAddress("10.9.9.9", false)));
  EXPECT_EQ(a.rules[0].listeners.size(), 1u);
  EXPECT_EQ(a.rules[1].names, (std::vector<std::string>{"*.example.com", "api.example.com"}));
  EXPECT_TRUE(a.rules[1].denyWithAlert);
  EXPECT_EQ(a.rules[1].action, proxy::AdmissionRule::Action::kDeny);
  EXPECT_EQ(a.rules[2].per, proxy::AdmissionRule::Per::kJa4);
  EXPECT_DOUBLE_EQ(a.rules[2].connections.rate, 0.5);
  EXPECT_DOUBLE_EQ(a.rules[2].connections.burst, 1);  // a rate's default burst: at least 1
  EXPECT_DOUBLE_EQ(a.rules[2].handshakes.burst, 40);
}

TEST(AdmissionConfig, ListenerMaxConnections) {
  auto c = parseOk(
      "listeners:\n"
      "  - listen: 127.0.0.1:8443\n"
      "    max_connections: 500\n"
      "ssl:\n"
      "  multicert: ssl_multicert.config\n"
      "routes:\n"
      "  default: builtin:inspect\n");
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].maxConnections, 500u);
}

void expectError(const std::string& lines, int line, const std::string& message) {
  Error e = parseFail(withAdmission(lines));
  EXPECT_EQ(e.file, kPath);
  EXPECT_EQ(e.line, line) << e.toString();
  EXPECT_TRUE(contains(e.message, message)) << e.toString();
}

TEST(AdmissionConfig, ErrorsNameTheLineAndTheProblem) {
  expectError("  source_prefix_v4: 33\n", 8, "from 0 to 32");
  expectError("  max_connections: -1\n", 8, "integer");
  expectError("  bogus: 1\n", 8, "bogus");
  expectError("  shed: {max_loop_lag_ms: 0}\n", 8, "at least 1");
  expectError("  rules: {}\n", 8, "list of rules");
  expectError("  rules:\n    - source: 10.0.0.0/33\n", 9, "prefix");
  expectError("  rules:\n    - action: block\n", 9, "allow, deny or limit");
  expectError("  rules:\n    - action: limit\n", 9, "needs connections_per_second");
  expectError("  rules:\n    - action: deny\n      handshakes_per_second: 3\n", 10,
              "is for action: limit");
  expectError("  rules:\n    - action: allow\n      deny_with: alert\n", 10, "is for action: deny");
  expectError(
      "  rules:\n    - action: limit\n      handshakes_per_second: 1\n"
      "      connection_burst: 5\n",
      11, "needs its rate");
  expectError("  rules:\n    - sni: 'www.*.com'\n", 9, "wildcard");
  expectError("  rules:\n    - listener: 127.0.0.1:9999\n", 9, "not in listeners");
  expectError("  rules:\n    - listener: nowhere\n", 9, "address:port");
  expectError("  rules:\n    - action: limit\n      handshakes_per_second: fast\n", 10, "number");
}

}  // namespace
}  // namespace config
}  // namespace tlsgate
