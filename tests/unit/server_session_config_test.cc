// tlsgate.yaml's ssl.server: ticket keys and the session cache.
#include <gtest/gtest.h>

#include "config/gateway_config.h"

namespace tlsgate::config {
namespace {

const std::string kPath = "/etc/tlsgate/tlsgate.yaml";

// ssl.server with `lines` under it: the first line of `lines` is line 6.
std::string withServer(const std::string& lines) {
  return "listeners:\n"
         "  - listen: 127.0.0.1:8443\n"
         "ssl:\n"
         "  multicert: ssl_multicert.config\n"
         "  server:\n" +
         lines +
         "routes:\n"
         "  default: builtin:inspect\n";
}

Error parseFail(const std::string& text) {
  auto r = parseGatewayConfig(text, kPath);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? Error{} : r.error();
}

TEST(ServerSessionConfig, Defaults) {
  auto r = parseGatewayConfig(withServer("    {}\n"), kPath);
  ASSERT_TRUE(r) << r.error().toString();
  const ServerTlsConfig& s = r->ssl.server;
  EXPECT_TRUE(s.ticketKey.filename.empty());
  EXPECT_EQ(s.ticketKey.rotationSec, 43200u);
  EXPECT_FALSE(s.ticketKey.redis);
  EXPECT_EQ(s.sessionTimeoutSec, 7200u);
  EXPECT_FALSE(s.sessionCache.enabled);
  EXPECT_EQ(s.sessionCache.size, 20480u);
}

TEST(ServerSessionConfig, AllKeys) {
  auto r = parseGatewayConfig(withServer("    ticket_key:\n"
                                         "      filename: keys/ticket.key\n"
                                         "    session:\n"
                                         "      timeout: 300\n"
                                         "      cache: {enabled: true, size: 100}\n"),
                              kPath);
  ASSERT_TRUE(r) << r.error().toString();
  const ServerTlsConfig& s = r->ssl.server;
  EXPECT_EQ(s.ticketKey.filename, "/etc/tlsgate/keys/ticket.key");
  EXPECT_EQ(s.ticketKey.filenameLine, 7);
  EXPECT_EQ(s.sessionTimeoutSec, 300u);
  EXPECT_TRUE(s.sessionCache.enabled);
  EXPECT_EQ(s.sessionCache.size, 100u);
}

TEST(ServerSessionConfig, Redis) {
  auto r = parseGatewayConfig(withServer("    ticket_key:\n"
                                         "      redis:\n"
                                         "        address: 127.0.0.1:6379\n"
                                         "        password_file: redis.pass\n"),
                              kPath);
  ASSERT_TRUE(r) << r.error().toString();
  const auto& redis = r->ssl.server.ticketKey.redis;
  ASSERT_TRUE(redis);
  EXPECT_EQ(redis->address, "127.0.0.1:6379");
  EXPECT_EQ(redis->keyPrefix, "tlsgate:stek:");
  EXPECT_EQ(redis->passwordFile, "/etc/tlsgate/redis.pass");
  EXPECT_EQ(redis->line, 7);
}

TEST(ServerSessionConfig, ErrorsNameFileAndLine) {
  struct Case {
    std::string lines;
    int line;
    std::string says;
  };
  const Case cases[] = {
      {"    tickets: {}\n", 6, "unknown key"},
      {"    ticket_key:\n      rotation: 0\n", 7, "at least 1 second"},
      {"    ticket_key:\n      rotation: soon\n", 7, "non-negative integer"},
      {"    ticket_key:\n      filename: a.key\n      rotation: 60\n", 6, "not to filename"},
      {"    ticket_key:\n      filename: a.key\n      redis: {address: r:1}\n", 6,
       "exclude each other"},
      {"    ticket_key:\n      redis: {key_prefix: x}\n", 7, "missing required key 'address'"},
      {"    ticket_key:\n      redis: {address: nocolon}\n", 7, "host:port"},
      {"    session:\n      timeout: 0\n", 7, "at least 1 second"},
      {"    session:\n      cache: {enabled: yes please}\n", 7, "true or false"},
      {"    session:\n      cache: {size: 0}\n", 7, "at least 1"},
      {"    session:\n      cache: {ttl: 3}\n", 7, "unknown key"},
  };
  for (const Case& c : cases) {
    Error e = parseFail(withServer(c.lines));
    EXPECT_EQ(e.file, kPath);
    EXPECT_EQ(e.line, c.line) << c.lines << e.message;
    EXPECT_NE(e.message.find(c.says), std::string::npos) << c.lines << e.message;
  }
}

}  // namespace
}  // namespace tlsgate::config
