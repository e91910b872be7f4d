// ssl.cert_directory in tlsgate.yaml (config/cert_directory_config.h): the defaults, a path
// relative to the file, and every bad value named with its line.
#include <gtest/gtest.h>

#include "gateway_config_helpers.h"

namespace tlsgate::config {
namespace {

using yaml_testing::contains;
using yaml_testing::parseFail;
using yaml_testing::parseOk;
using yaml_testing::withSsl;

TEST(CertDirectoryConfig, AbsentByDefaultAndDefaultsWithAPathOnly) {
  EXPECT_FALSE(parseOk(yaml_testing::kMinimal).ssl.certDirectory);
  GatewayConfig c = parseOk(withSsl("  cert_directory:\n    path: certs\n"));
  ASSERT_TRUE(c.ssl.certDirectory);
  const CertDirectoryConfig& d = *c.ssl.certDirectory;
  EXPECT_EQ(d.path, "/etc/tlsgate/certs") << "relative to tlsgate.yaml";
  EXPECT_EQ(d.pathLine, 6);
  EXPECT_EQ(d.cacheSize, 100000u);
  EXPECT_EQ(d.negativeTtlSec, 60u);
  EXPECT_EQ(d.timeoutSec, 5u);
}

TEST(CertDirectoryConfig, EveryKeyIsRead) {
  GatewayConfig c = parseOk(withSsl(
      "  cert_directory: {path: /srv/certs, cache_size: 2, negative_ttl: 0, timeout: 9}\n"));
  ASSERT_TRUE(c.ssl.certDirectory);
  EXPECT_EQ(c.ssl.certDirectory->path, "/srv/certs");
  EXPECT_EQ(c.ssl.certDirectory->cacheSize, 2u);
  EXPECT_EQ(c.ssl.certDirectory->negativeTtlSec, 0u) << "0: unknown names are not kept";
  EXPECT_EQ(c.ssl.certDirectory->timeoutSec, 9u);
}

TEST(CertDirectoryConfig, BadValuesNameTheirLine) {
  struct Case {
    std::string lines;
    int line;
    std::string message;
  } cases[] = {
      {"  cert_directory:\n    cache_size: 5\n", 5,
       "ssl.cert_directory: missing required key 'path'"},
      {"  cert_directory:\n    path: d\n    cache_size: 0\n", 7,
       "ssl.cert_directory.cache_size must be an integer of at least 1"},
      {"  cert_directory:\n    path: d\n    timeout: 0\n", 7,
       "ssl.cert_directory.timeout must be an integer of at least 1 (seconds)"},
      {"  cert_directory:\n    path: d\n    negative_ttl: -1\n", 7,
       "ssl.cert_directory.negative_ttl must be an integer of at least 0"},
      {"  cert_directory:\n    path: \"\"\n", 6, "ssl.cert_directory.path must name a folder"},
      {"  cert_directory:\n    path: d\n    size: 3\n", 7, "size"},
      {"  cert_directory: certs\n", 5, "ssl.cert_directory"},
  };
  for (const Case& c : cases) {
    Error e = parseFail(withSsl(c.lines));
    EXPECT_EQ(e.file, yaml_testing::kPath) << c.lines;
    EXPECT_EQ(e.line, c.line) << c.lines << e.toString();
    EXPECT_TRUE(contains(e.message, c.message)) << c.lines << e.toString();
  }
}

}  // namespace
}  // namespace tlsgate::config
