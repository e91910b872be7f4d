// sni.yaml's per-name session ticket keys.
#include <gtest/gtest.h>

#include "config/sni_config.h"

namespace tlsgate::config {
namespace {

const std::string kPath = "/etc/tlsgate/sni.yaml";

TEST(SniTickets, ParsesEnabledAndNumber) {
  auto r = parseSniConfig(
      "sni:\n  - fqdn: a.test\n    ssl_ticket_enabled: 0\n"
      "  - fqdn: b.test\n    ssl_ticket_enabled: 1\n    ssl_ticket_number: 4\n",
      kPath);
  ASSERT_TRUE(r) << r.error().toString();
  ASSERT_EQ(r->rules.size(), 2u);
  EXPECT_EQ(r->rules[0].ticketEnabled, false);
  EXPECT_FALSE(r->rules[0].ticketNumber);
  EXPECT_EQ(r->rules[1].ticketEnabled, true);
  EXPECT_EQ(r->rules[1].ticketNumber, 4);
}

TEST(SniTickets, BadValuesNameFileAndLine) {
  for (const char* bad : {"ssl_ticket_enabled: yes", "ssl_ticket_enabled: 2",
                          "ssl_ticket_number: -1", "ssl_ticket_number: two"}) {
    auto r = parseSniConfig(std::string("sni:\n  - fqdn: a.test\n    ") + bad + "\n", kPath);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().file, kPath);
    EXPECT_EQ(r.error().line, 3) << bad;
    const std::string key(bad, std::string_view(bad).find(':'));
    EXPECT_NE(r.error().message.find(key + " must be"), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace tlsgate::config
