// ssl.server.ticket_key.redis: the mapping, its errors (file:line) and the password file.
#include "config/ticket_redis_config.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>

#include "config/yaml_fields.h"

namespace tlsgate::config {
namespace {

const std::string kPath = "/etc/tlsgate/tlsgate.yaml";

// Parses `body` as the value of a `redis:` key on line 1 (body lines start at line 2).
Result<TicketRedisConfig> parse(const std::string& body, const std::string& dir = "/etc/tlsgate") {
  const YAML::Node root = YAML::Load("redis:\n" + body);
  static constexpr std::string_view kRedis[] = {"redis"};
  auto top = yaml::fields(kPath, root, 1, "ssl.server.ticket_key", {.allowed = kRedis});
  EXPECT_TRUE(top);
  return parseTicketRedisConfig(top->front(), kPath, dir);
}

std::string failure(const std::string& body) {
  auto r = parse(body);
  EXPECT_FALSE(r) << body;
  return r ? "" : r.error().toString();
}

TEST(TicketRedisConfig, Defaults) {
  auto r = parse("  address: redis.internal:6380\n");
  ASSERT_TRUE(r) << r.error().toString();
  EXPECT_EQ(r->host, "redis.internal");
  EXPECT_EQ(r->port, 6380);
  EXPECT_EQ(r->keyPrefix, "tlsgate:stek:");
  EXPECT_EQ(r->pollInterval, std::chrono::milliseconds(1000));
  EXPECT_TRUE(r->passwordFile.empty());
  EXPECT_EQ(r->line, 1);
}

TEST(TicketRedisConfig, EveryKey) {
  auto r = parse(
      "  address: \"[::1]:7000\"\n"
      "  key_prefix: \"fleet-a:\"\n"
      "  password_file: secrets/redis.pass\n"
      "  poll_interval: 0.25\n");
  ASSERT_TRUE(r) << r.error().toString();
  EXPECT_EQ(r->host, "::1");
  EXPECT_EQ(r->port, 7000);
  EXPECT_EQ(r->keyPrefix, "fleet-a:");
  EXPECT_EQ(r->passwordFile, "/etc/tlsgate/secrets/redis.pass");
  EXPECT_EQ(r->passwordFileLine, 4);
  EXPECT_EQ(r->pollInterval, std::chrono::milliseconds(250));
}

TEST(TicketRedisConfig, ErrorsNameFileAndLine) {
  EXPECT_EQ(failure("  key_prefix: x\n"),
            kPath + ":1: ssl.server.ticket_key.redis: missing required key 'address'");
  EXPECT_EQ(
      failure("  address: a:1\n  colour: blue\n").rfind(kPath + ":3: unknown key 'colour'", 0), 0u);
  for (const char* bad : {"host", "host:", "host:0", "host:70000", "host:x", "::1", "[::1",
                          "::1:80", ":6379", "[]:1"})
    EXPECT_EQ(failure(std::string("  address: \"") + bad + "\"\n").rfind(kPath + ":2: bad ", 0), 0u)
        << bad;
  EXPECT_EQ(failure("  address: a:1\n  key_prefix: \"\"\n"),
            kPath + ":3: ssl.server.ticket_key.redis.key_prefix must not be empty");
  for (const char* bad : {"0", "-1", "61", "fast", "0.001"})
    EXPECT_EQ(failure(std::string("  address: a:1\n  poll_interval: ") + bad + "\n")
                  .rfind(kPath + ":3: ssl.server.ticket_key.redis.poll_interval must be", 0),
              0u)
        << bad;
  EXPECT_EQ(failure("  address: [a, b]\n"),
            kPath + ":2: ssl.server.ticket_key.redis.address must be a string, got a sequence");
  EXPECT_EQ(failure("  - address\n"),
            kPath + ":2: ssl.server.ticket_key.redis must be a mapping, got a sequence");
}

class RedisPasswordFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("tlsgate-redis-pass-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  TicketRedisConfig withFile(const std::string& content) {
    std::ofstream(dir_ / "pass") << content;
    auto r = parse("  address: a:1\n  password_file: pass\n", dir_.string());
    EXPECT_TRUE(r);
    return r ? *r : TicketRedisConfig{};
  }
  std::filesystem::path dir_;
};

TEST_F(RedisPasswordFile, TrailingNewlineIsNotPartOfThePassword) {
  EXPECT_EQ(*readRedisPassword(withFile("s3cret\n"), kPath), "s3cret");
  EXPECT_EQ(*readRedisPassword(withFile("s3cret"), kPath), "s3cret");
  EXPECT_EQ(*readRedisPassword(withFile("s3cret\r\n"), kPath), "s3cret");
}

TEST_F(RedisPasswordFile, NoFileMeansNoPassword) {
  EXPECT_EQ(*readRedisPassword(TicketRedisConfig{}, kPath), "");
}

TEST_F(RedisPasswordFile, MissingOrEmptyFileIsAnErrorAtItsLine) {
  auto empty = readRedisPassword(withFile("\n"), kPath);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().toString(),
            kPath + ":3: " + (dir_ / "pass").string() + ": the password is empty");
  auto config = withFile("x");
  std::filesystem::remove(dir_ / "pass");
  auto missing = readRedisPassword(config, kPath);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().toString().rfind(
                kPath + ":3: " + (dir_ / "pass").string() + ": cannot read", 0),
            0u)
      << missing.error().toString();
}

}  // namespace
}  // namespace tlsgate::config
