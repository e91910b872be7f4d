// sni.yaml: which item a server name matches, and destinations expanded per connection.
#include "config/sni_config.h"
#include "sni_config_helpers.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace tlsgate::config {
namespace {

using namespace sni_testing;

// ---------------------------------------------------------------- matching

TEST(SniConfigTest, ExactNameIgnoresCase) {
  auto c = parseOk("sni:\n  - fqdn: A.Example.com\n");
  EXPECT_EQ(matchedFqdn(c, "a.example.com"), "a.example.com");
  EXPECT_EQ(matchedFqdn(c, "A.EXAMPLE.COM"), "a.example.com");
  EXPECT_EQ(matchedFqdn(c, "b.example.com"), "<none>");
  EXPECT_EQ(matchedFqdn(c, "a.example.co"), "<none>");
  EXPECT_EQ(matchedFqdn(c, "a.example.com.x"), "<none>");
  EXPECT_EQ(matchedFqdn(c, ""), "<none>");
  EXPECT_TRUE(c.match("a.example.com").captures.empty());
}

TEST(SniConfigTest, WildcardMatchesExactlyOneLabel) {
  auto c = parseOk("sni:\n  - fqdn: '*.example.com'\n");
  auto m = c.match("a.example.com");
  ASSERT_NE(m.rule, nullptr);
  EXPECT_EQ(m.rule, &c.rules[0]);
  EXPECT_EQ(m.captures, std::vector<std::string>{"a"});
  EXPECT_EQ(c.match("WWW.Example.COM").captures, std::vector<std::string>{"www"});
  EXPECT_EQ(matchedFqdn(c, "example.com"), "<none>");
  EXPECT_EQ(matchedFqdn(c, "a.b.example.com"), "<none>");
  EXPECT_EQ(matchedFqdn(c, ".example.com"), "<none>");
  EXPECT_EQ(matchedFqdn(c, "aexample.com"), "<none>");
  EXPECT_EQ(matchedFqdn(c, "a.example.org"), "<none>");
  EXPECT_EQ(matchedFqdn(c, "a.example.com."), "<none>");
  EXPECT_EQ(matchedFqdn(c, ""), "<none>");
}

TEST(SniConfigTest, EarlierWildcardBeatsLaterExactName) {
  auto c = parseOk(
      "sni:\n"
      "  - fqdn: '*.example.com'\n"
      "    tunnel_route: wild:1\n"
      "  - fqdn: a.example.com\n"
      "    tunnel_route: exact:1\n");
  auto m = c.match("a.example.com");
  ASSERT_NE(m.rule, nullptr);
  EXPECT_EQ(m.rule->destination, "wild:1");
  EXPECT_EQ(m.captures, std::vector<std::string>{"a"});
  ASSERT_EQ(c.warnings.size(), 1u);  // the exact item can never win
  EXPECT_EQ(c.warnings[0].line, 4);
  EXPECT_EQ(c.warnings[0].message,
            "the item for fqdn 'a.example.com' is never used: the item at line 2 (fqdn "
            "'*.example.com') matches first");
}

TEST(SniConfigTest, EarlierExactNameBeatsLaterWildcard) {
  auto c = parseOk(
      "sni:\n"
      "  - fqdn: a.example.com\n"
      "    tunnel_route: exact:1\n"
      "  - fqdn: '*.example.com'\n"
      "    tunnel_route: wild:1\n");
  auto exact = c.match("A.example.com");
  ASSERT_NE(exact.rule, nullptr);
  EXPECT_EQ(exact.rule->destination, "exact:1");
  EXPECT_TRUE(exact.captures.empty());
  auto wild = c.match("b.example.com");
  ASSERT_NE(wild.rule, nullptr);
  EXPECT_EQ(wild.rule->destination, "wild:1");
  EXPECT_TRUE(c.warnings.empty());
}

TEST(SniConfigTest, FirstOfTwoItemsWithTheSameFqdnWins) {
  auto c = parseOk(
      "sni:\n"
      "  - fqdn: a.example\n"
      "    forward_route: first:1\n"
      "  - fqdn: A.EXAMPLE\n"
      "    forward_route: second:1\n"
      "  - fqdn: '*.x'\n"
      "  - fqdn: '*.X'\n");
  EXPECT_EQ(c.rules.size(), 4u);
  EXPECT_EQ(c.match("a.example").rule->destination, "first:1");
  EXPECT_EQ(c.match("q.x").rule, &c.rules[2]);
  ASSERT_EQ(c.warnings.size(), 2u);
  EXPECT_EQ(c.warnings[0].file, kPath);
  EXPECT_EQ(c.warnings[0].line, 4);
  EXPECT_EQ(c.warnings[1].line, 7);
}

TEST(SniConfigTest, StarMatchesEveryNameAndNoName) {
  auto c = parseOk(
      "sni:\n"
      "  - fqdn: a.example\n"
      "  - fqdn: '*'\n"
      "    tunnel_route: $1:443\n"
      "  - fqdn: b.example\n"
      "  - fqdn: ''\n");
  EXPECT_EQ(matchedFqdn(c, "a.example"), "a.example");
  EXPECT_EQ(matchedFqdn(c, "b.example"), "*");  // "*" is earlier
  EXPECT_EQ(matchedFqdn(c, "anything.at.all"), "*");
  EXPECT_EQ(matchedFqdn(c, ""), "*");
  EXPECT_EQ(c.match("Some.Name").captures, std::vector<std::string>{"some.name"});
  EXPECT_TRUE(c.match("").captures.empty());
  ASSERT_EQ(c.warnings.size(), 2u);
  EXPECT_EQ(c.warnings[0].line, 5);
  EXPECT_EQ(c.warnings[1].line, 6);
}

TEST(SniConfigTest, EmptyFqdnMatchesOnlyConnectionsWithoutSni) {
  auto c = parseOk(
      "sni:\n"
      "  - fqdn: ''\n"
      "    forward_route: nosni:1\n"
      "  - fqdn: '*'\n"
      "    forward_route: any:1\n");
  EXPECT_EQ(c.match("").rule->destination, "nosni:1");
  EXPECT_EQ(c.match("a.example").rule->destination, "any:1");
  auto onlyEmpty = parseOk("sni:\n  - fqdn: ''\n");
  EXPECT_EQ(matchedFqdn(onlyEmpty, ""), "");
  EXPECT_EQ(matchedFqdn(onlyEmpty, "a"), "<none>");
}

TEST(SniConfigTest, TheLowestIndexWinsAmongExactWildcardAndStar) {
  // Each candidate kind in each position: the first in file order wins.
  const std::vector<std::string> kinds = {"a.b.example", "'*.b.example'", "'*'"};
  std::vector<int> order = {0, 1, 2};
  do {
    std::string text = "sni:\n";
    for (int k : order) text += "  - fqdn: " + kinds[k] + "\n";
    auto c = parseOk(text);
    auto m = c.match("a.b.example");
    ASSERT_NE(m.rule, nullptr) << text;
    EXPECT_EQ(m.rule, &c.rules[0]) << text;
  } while (std::next_permutation(order.begin(), order.end()));
}

SniRule ruleAt(int line, const std::string& fqdn) {
  SniRule r;
  r.line = line;
  r.fqdn = fqdn;
  return r;
}

TEST(SniConfigTest, HandBuiltRulesAndReindexing) {
  SniConfig c;
  c.rules.push_back(ruleAt(1, "*.Example.com"));
  c.rules.push_back(ruleAt(2, "Exact.example.com"));
  c.index();
  EXPECT_EQ(c.match("exact.EXAMPLE.com").rule, &c.rules[0]);
  std::swap(c.rules[0], c.rules[1]);
  c.index();
  EXPECT_EQ(c.match("exact.example.com").rule->line, 2);
  EXPECT_EQ(c.match("other.example.com").rule->line, 1);
  c.rules.clear();
  c.index();
  EXPECT_EQ(c.match("exact.example.com").rule, nullptr);
}

TEST(SniConfigTest, ACopyMatchesIntoItsOwnRules) {
  auto original = parseOk("sni:\n  - fqdn: a.example\n  - fqdn: '*.example'\n");
  SniConfig copy = original;
  EXPECT_EQ(copy.match("a.example").rule, &copy.rules[0]);
  EXPECT_EQ(copy.match("b.example").rule, &copy.rules[1]);
}

TEST(SniConfigTest, ManyRulesLookUpByIndex) {
  std::string text = "sni:\n";
  for (int i = 0; i < 2000; ++i) {
    text += "  - fqdn: host" + std::to_string(i) + ".example\n";
    text += "  - fqdn: '*.zone" + std::to_string(i) + ".example'\n";
  }
  auto c = parseOk(text);
  ASSERT_EQ(c.rules.size(), 4000u);
  EXPECT_EQ(c.match("HOST1999.example").rule, &c.rules[3998]);
  auto m = c.match("x.zone1234.example");
  EXPECT_EQ(m.rule, &c.rules[2469]);
  EXPECT_EQ(m.captures, std::vector<std::string>{"x"});
  EXPECT_EQ(c.match("host2000.example").rule, nullptr);
  EXPECT_TRUE(c.warnings.empty());
}

// ---------------------------------------------------------------- expandDestination

TEST(SniConfigTest, ExpandCapturesAndPorts) {
  const std::vector<std::string> caps = {"app"};
  DestinationContext ctx{&caps, 8443, 9443};
  EXPECT_EQ(*expandDestination("$1.internal:443", ctx), "app.internal:443");
  EXPECT_EQ(*expandDestination("$1-$1.internal:{inbound_local_port}", ctx),
            "app-app.internal:8443");
  EXPECT_EQ(*expandDestination("backend:{proxy_protocol_port}", ctx), "backend:9443");
  EXPECT_EQ(*expandDestination("[::1]:{inbound_local_port}", ctx), "[::1]:8443");
  EXPECT_EQ(*expandDestination("plain:80", DestinationContext{nullptr, 0, 0}), "plain:80");
}

TEST(SniConfigTest, ExpandErrors) {
  const std::vector<std::string> one = {"app"};
  auto err = [](std::string_view pattern, const DestinationContext& ctx) {
    auto r = expandDestination(pattern, ctx);
    EXPECT_FALSE(r.ok()) << pattern;
    return r.ok() ? std::string() : r.error().message;
  };
  EXPECT_EQ(err("$2.x:1", {&one, 1, 1}),
            "destination '$2.x:1': $2 but the server name gave 1 capture(s)");
  EXPECT_EQ(err("$1.x:1", {nullptr, 1, 1}),
            "destination '$1.x:1': $1 but the server name gave 0 capture(s)");
  EXPECT_EQ(err("x:{inbound_local_port}", {&one, 0, 1}),
            "destination 'x:{inbound_local_port}': {inbound_local_port} is not known for this "
            "connection");
  EXPECT_EQ(err("x:{proxy_protocol_port}", {&one, 1, 0}),
            "destination 'x:{proxy_protocol_port}': {proxy_protocol_port} is not known for this "
            "connection");
  EXPECT_EQ(err("x:{port}", {&one, 1, 1}), "destination 'x:{port}': unknown token at '{port}'");
  EXPECT_EQ(err("x$:1", {&one, 1, 1}),
            "destination 'x$:1': '$' must be followed by a capture number 1..9");
  EXPECT_EQ(err(":1", {&one, 1, 1}), "destination ':1': the host is empty");
  const std::vector<std::string> evil = {"evil.com:22/"};
  EXPECT_EQ(err("$1.x:1", {&evil, 1, 1}),
            "destination '$1.x:1': capture 'evil.com:22/' for $1 is not a host name");
}

TEST(SniConfigTest, ParseMatchExpandTogether) {
  auto c = parseOk(item("*.svc.example", "    tunnel_route: $1.pods.local:{inbound_local_port}\n"));
  auto m = c.match("Billing.svc.example");
  ASSERT_NE(m.rule, nullptr);
  auto d = expandDestination(m.rule->destination, {&m.captures, 443, 0});
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(*d, "billing.pods.local:443");
  // A hostile name reaching "*": the capture is refused rather than spliced into the target.
  auto star = parseOk(item("*", "    tunnel_route: $1:443\n"));
  auto hostile = star.match("a:1@b");
  ASSERT_NE(hostile.rule, nullptr);
  EXPECT_FALSE(expandDestination(hostile.rule->destination, {&hostile.captures, 443, 0}).ok());
}

}  // namespace
}  // namespace tlsgate::config
