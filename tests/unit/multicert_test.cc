// S15: ssl_multicert.config parsing.
#include "config/multicert.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace tlsgate::config {
namespace {

const std::string kPath = "/etc/tlsgate/ssl_multicert.config";

std::vector<MulticertEntry> parseOk(std::string_view text, const std::string& path = kPath) {
  auto r = parseMulticert(text, path);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().toString());
  return r.ok() ? r.value() : std::vector<MulticertEntry>{};
}

Error parseFail(std::string_view text, const std::string& path = kPath) {
  auto r = parseMulticert(text, path);
  EXPECT_FALSE(r.ok()) << "expected an error for: " << text;
  return r.ok() ? Error{} : r.error();
}

MulticertEntry parseOne(std::string_view text) {
  auto entries = parseOk(text);
  EXPECT_EQ(entries.size(), 1u);
  return entries.empty() ? MulticertEntry{} : entries.front();
}

TEST(MulticertTest, S15_MinimalEntryHasDefaults) {
  auto e = parseOne("ssl_cert_name=server.pem\n");
  EXPECT_EQ(e.line, 1);
  EXPECT_EQ(e.certFiles, std::vector<std::string>{"/etc/tlsgate/server.pem"});
  EXPECT_TRUE(e.keyFiles.empty());
  EXPECT_TRUE(e.caFiles.empty());
  EXPECT_FALSE(e.destIp.has_value());
  EXPECT_FALSE(e.tunnel);
  EXPECT_FALSE(e.ticketEnabled.has_value());
  EXPECT_FALSE(e.ticketNumber.has_value());
  EXPECT_EQ(e.ocspFile, "");
}

TEST(MulticertTest, S15_EveryKey) {
  auto e = parseOne(
      "dest_ip=1.2.3.4 ssl_cert_name=rsa.pem,ecdsa.pem ssl_key_name=rsa.key,ecdsa.key "
      "ssl_ca_name=inter1.pem,inter2.pem ssl_ocsp_name=ocsp.der action=tunnel "
      "ssl_ticket_enabled=1 ssl_ticket_number=3");
  EXPECT_EQ(e.certFiles,
            (std::vector<std::string>{"/etc/tlsgate/rsa.pem", "/etc/tlsgate/ecdsa.pem"}));
  EXPECT_EQ(e.keyFiles,
            (std::vector<std::string>{"/etc/tlsgate/rsa.key", "/etc/tlsgate/ecdsa.key"}));
  EXPECT_EQ(e.caFiles,
            (std::vector<std::string>{"/etc/tlsgate/inter1.pem", "/etc/tlsgate/inter2.pem"}));
  EXPECT_EQ(e.ocspFile, "/etc/tlsgate/ocsp.der");
  ASSERT_TRUE(e.destIp.has_value());
  EXPECT_FALSE(e.destIp->any);
  EXPECT_EQ(e.destIp->address.ipString(), "1.2.3.4");
  EXPECT_TRUE(e.tunnel);
  EXPECT_EQ(e.ticketEnabled, std::optional<bool>(true));
  EXPECT_EQ(e.ticketNumber, std::optional<int>(3));
}

TEST(MulticertTest, S15_TicketDisabledAndZeroTickets) {
  auto e = parseOne("ssl_cert_name=a.pem ssl_ticket_enabled=0 ssl_ticket_number=0");
  EXPECT_EQ(e.ticketEnabled, std::optional<bool>(false));
  EXPECT_EQ(e.ticketNumber, std::optional<int>(0));
}

TEST(MulticertTest, S15_KeysInAnyOrderWithTabsAndExtraSpaces) {
  auto e = parseOne("  \tssl_key_name=k.pem \t  ssl_cert_name=c.pem\t\t");
  EXPECT_EQ(e.certFiles, std::vector<std::string>{"/etc/tlsgate/c.pem"});
  EXPECT_EQ(e.keyFiles, std::vector<std::string>{"/etc/tlsgate/k.pem"});
}

TEST(MulticertTest, S15_CommentsAndBlankLinesAreSkipped) {
  auto entries = parseOk(
      "# full-line comment\n"
      "\n"
      "   \t\n"
      "   # indented comment\n"
      "ssl_cert_name=a.pem # trailing comment ssl_key_name=ignored\n"
      "ssl_cert_name=b.pem#no space before the comment\n");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].line, 5);
  EXPECT_EQ(entries[0].certFiles, std::vector<std::string>{"/etc/tlsgate/a.pem"});
  EXPECT_TRUE(entries[0].keyFiles.empty());
  EXPECT_EQ(entries[1].line, 6);
  EXPECT_EQ(entries[1].certFiles, std::vector<std::string>{"/etc/tlsgate/b.pem"});
}

TEST(MulticertTest, S15_EmptyAndCommentOnlyFilesGiveNoEntries) {
  EXPECT_TRUE(parseOk("").empty());
  EXPECT_TRUE(parseOk("# nothing here\n\n").empty());
}

TEST(MulticertTest, S15_QuotedValueMayHoldSpacesAndHash) {
  auto e = parseOne(R"(ssl_cert_name="my certs/server #1.pem" ssl_key_name="/keys/a b.key")");
  EXPECT_EQ(e.certFiles, std::vector<std::string>{"/etc/tlsgate/my certs/server #1.pem"});
  EXPECT_EQ(e.keyFiles, std::vector<std::string>{"/keys/a b.key"});
}

TEST(MulticertTest, S15_QuotedValueFollowedByComment) {
  auto e = parseOne(R"(ssl_cert_name="a.pem" # comment with "quotes")");
  EXPECT_EQ(e.certFiles, std::vector<std::string>{"/etc/tlsgate/a.pem"});
}

TEST(MulticertTest, S15_QuotedListWithSpacesAfterCommas) {
  auto e = parseOne(R"(ssl_cert_name="rsa.pem, ecdsa.pem")");
  EXPECT_EQ(e.certFiles,
            (std::vector<std::string>{"/etc/tlsgate/rsa.pem", "/etc/tlsgate/ecdsa.pem"}));
}

TEST(MulticertTest, S15_CrlfLineEndingsAreTolerated) {
  auto entries = parseOk("ssl_cert_name=a.pem\r\n# c\r\n\r\nssl_cert_name=b.pem dest_ip=*\r\n");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].certFiles, std::vector<std::string>{"/etc/tlsgate/a.pem"});
  EXPECT_EQ(entries[1].line, 4);
  EXPECT_EQ(entries[1].certFiles, std::vector<std::string>{"/etc/tlsgate/b.pem"});
  ASSERT_TRUE(entries[1].destIp.has_value());
  EXPECT_TRUE(entries[1].destIp->any);
}

TEST(MulticertTest, S15_LastLineWithoutNewline) {
  auto entries = parseOk("ssl_cert_name=a.pem\nssl_cert_name=b.pem");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[1].line, 2);
}

TEST(MulticertTest, S15_MultipleEntriesKeepOrderAndLines) {
  auto entries = parseOk(
      "dest_ip=* ssl_cert_name=default.pem\n"
      "ssl_cert_name=one.pem\n"
      "# comment\n"
      "dest_ip=10.0.0.1 ssl_cert_name=two.pem\n");
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].line, 1);
  EXPECT_EQ(entries[1].line, 2);
  EXPECT_EQ(entries[2].line, 4);
  EXPECT_EQ(entries[0].certFiles, std::vector<std::string>{"/etc/tlsgate/default.pem"});
  EXPECT_EQ(entries[1].certFiles, std::vector<std::string>{"/etc/tlsgate/one.pem"});
  EXPECT_EQ(entries[2].certFiles, std::vector<std::string>{"/etc/tlsgate/two.pem"});
}

TEST(MulticertTest, S15_RelativeNamesResolveAgainstConfigFolderAbsoluteKept) {
  auto e = parseOne(
      "ssl_cert_name=certs/a.pem,/abs/b.pem ssl_key_name=/abs/a.key,keys/b.key "
      "ssl_ca_name=ca.pem ssl_ocsp_name=/abs/ocsp.der");
  EXPECT_EQ(e.certFiles, (std::vector<std::string>{"/etc/tlsgate/certs/a.pem", "/abs/b.pem"}));
  EXPECT_EQ(e.keyFiles, (std::vector<std::string>{"/abs/a.key", "/etc/tlsgate/keys/b.key"}));
  EXPECT_EQ(e.caFiles, std::vector<std::string>{"/etc/tlsgate/ca.pem"});
  EXPECT_EQ(e.ocspFile, "/abs/ocsp.der");
}

TEST(MulticertTest, S15_RelativeConfigPathGivesRelativeFolder) {
  auto entries = parseOk("ssl_cert_name=a.pem ssl_ocsp_name=o.der", "conf/ssl_multicert.config");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].certFiles, std::vector<std::string>{"conf/a.pem"});
  EXPECT_EQ(entries[0].ocspFile, "conf/o.der");
}

TEST(MulticertTest, S15_ConfigInCurrentFolderKeepsNamesAsWritten) {
  auto entries = parseOk("ssl_cert_name=a.pem", "ssl_multicert.config");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].certFiles, std::vector<std::string>{"a.pem"});
}

TEST(MulticertTest, S15_DestIpAny) {
  auto e = parseOne("dest_ip=* ssl_cert_name=a.pem");
  ASSERT_TRUE(e.destIp.has_value());
  EXPECT_TRUE(e.destIp->any);
  EXPECT_FALSE(e.destIp->hasPort);
}

TEST(MulticertTest, S15_DestIpV4) {
  auto e = parseOne("dest_ip=192.0.2.7 ssl_cert_name=a.pem");
  ASSERT_TRUE(e.destIp.has_value());
  EXPECT_FALSE(e.destIp->any);
  EXPECT_FALSE(e.destIp->hasPort);
  EXPECT_EQ(e.destIp->address.family(), AF_INET);
  EXPECT_EQ(e.destIp->address.ipString(), "192.0.2.7");
}

TEST(MulticertTest, S15_DestIpV4WithPort) {
  auto e = parseOne("dest_ip=192.0.2.7:8443 ssl_cert_name=a.pem");
  ASSERT_TRUE(e.destIp.has_value());
  EXPECT_FALSE(e.destIp->any);
  EXPECT_TRUE(e.destIp->hasPort);
  EXPECT_EQ(e.destIp->address.ipString(), "192.0.2.7");
  EXPECT_EQ(e.destIp->address.port(), 8443);
}

TEST(MulticertTest, S15_DestIpV6) {
  auto e = parseOne("dest_ip=2001:db8::1 ssl_cert_name=a.pem");
  ASSERT_TRUE(e.destIp.has_value());
  EXPECT_FALSE(e.destIp->hasPort);
  EXPECT_EQ(e.destIp->address.family(), AF_INET6);
  EXPECT_EQ(e.destIp->address.ipString(), "2001:db8::1");
}

TEST(MulticertTest, S15_DestIpBracketedV6WithPort) {
  auto e = parseOne("dest_ip=[2001:db8::1]:443 ssl_cert_name=a.pem");
  ASSERT_TRUE(e.destIp.has_value());
  EXPECT_TRUE(e.destIp->hasPort);
  EXPECT_EQ(e.destIp->address.family(), AF_INET6);
  EXPECT_EQ(e.destIp->address.ipString(), "2001:db8::1");
  EXPECT_EQ(e.destIp->address.port(), 443);
}

// --- errors: each names the file, the exact line and what is wrong ---

TEST(MulticertTest, S15_ErrorCarriesFileAndLine) {
  auto err = parseFail(
      "ssl_cert_name=a.pem\n"
      "# comment\n"
      "ssl_cert_name=b.pem foo=bar\n"
      "ssl_cert_name=c.pem\n");
  EXPECT_EQ(err.file, kPath);
  EXPECT_EQ(err.line, 3);
  EXPECT_NE(err.message.find("unknown key 'foo'"), std::string::npos) << err.message;
  EXPECT_EQ(err.toString().rfind(kPath + ":3: ", 0), 0u) << err.toString();
}

TEST(MulticertTest, S15_TokenWithoutEquals) {
  auto err = parseFail("ssl_cert_name=a.pem\nssl_cert_name=b.pem tunnel\n");
  EXPECT_EQ(err.line, 2);
  EXPECT_NE(err.message.find("key=value"), std::string::npos) << err.message;
  EXPECT_NE(err.message.find("'tunnel'"), std::string::npos) << err.message;
}

TEST(MulticertTest, S15_EmptyKey) {
  auto err = parseFail("ssl_cert_name=a.pem =b.pem\n");
  EXPECT_EQ(err.line, 1);
  EXPECT_NE(err.message.find("empty key"), std::string::npos) << err.message;
}

TEST(MulticertTest, S15_DuplicateKey) {
  auto err = parseFail("# c\nssl_cert_name=a.pem ssl_cert_name=b.pem\n");
  EXPECT_EQ(err.line, 2);
  EXPECT_NE(err.message.find("duplicate key 'ssl_cert_name'"), std::string::npos) << err.message;
}

TEST(MulticertTest, S15_UnterminatedQuote) {
  auto err = parseFail("ssl_cert_name=a.pem\n\nssl_cert_name=\"b.pem\n");
  EXPECT_EQ(err.line, 3);
  EXPECT_NE(err.message.find("unterminated quote"), std::string::npos) << err.message;
}

TEST(MulticertTest, S15_MissingCertName) {
  auto err = parseFail("ssl_cert_name=a.pem\ndest_ip=* ssl_key_name=a.key\n");
  EXPECT_EQ(err.line, 2);
  EXPECT_NE(err.message.find("missing ssl_cert_name"), std::string::npos) << err.message;
}

TEST(MulticertTest, S15_EmptyListElement) {
  for (const char* text : {"ssl_cert_name=a.pem,,b.pem", "ssl_cert_name=a.pem,",
                           "ssl_cert_name=", "ssl_cert_name=a.pem ssl_ca_name=,ca.pem",
                           "ssl_cert_name=a.pem ssl_key_name=\"\""}) {
    auto err = parseFail(text);
    EXPECT_EQ(err.line, 1) << text;
    EXPECT_NE(err.message.find("empty file name"), std::string::npos) << err.message;
  }
}

TEST(MulticertTest, S15_KeyCountMustMatchCertCount) {
  auto err = parseFail(
      "ssl_cert_name=a.pem\n"
      "ssl_cert_name=rsa.pem,ecdsa.pem ssl_key_name=rsa.key\n");
  EXPECT_EQ(err.line, 2);
  EXPECT_NE(err.message.find("ssl_key_name"), std::string::npos) << err.message;
  EXPECT_NE(err.message.find("ssl_cert_name"), std::string::npos) << err.message;
}

TEST(MulticertTest, S15_BadDestIp) {
  for (const char* bad : {"example.com", "1.2.3.4:99999", "[::1", "1.2.3", "**", ""}) {
    auto err = parseFail("ssl_cert_name=a.pem\ndest_ip=" + std::string(bad) + " ssl_cert_name=b");
    EXPECT_EQ(err.line, 2) << bad;
    EXPECT_NE(err.message.find("bad dest_ip '" + std::string(bad) + "'"), std::string::npos)
        << err.message;
    EXPECT_NE(err.message.find("expected an address, address:port or *"), std::string::npos)
        << err.message;
  }
}

TEST(MulticertTest, S15_ActionOtherThanTunnel) {
  auto err = parseFail("ssl_cert_name=a.pem action=blind\n");
  EXPECT_EQ(err.line, 1);
  EXPECT_NE(err.message.find("action 'blind'"), std::string::npos) << err.message;
  EXPECT_NE(err.message.find("tunnel"), std::string::npos) << err.message;
}

TEST(MulticertTest, S15_TicketEnabledMustBeZeroOrOne) {
  for (const char* bad : {"2", "yes", "true", ""}) {
    auto err = parseFail("ssl_cert_name=a.pem ssl_ticket_enabled=" + std::string(bad));
    EXPECT_EQ(err.line, 1);
    EXPECT_NE(err.message.find("ssl_ticket_enabled '" + std::string(bad) + "'"), std::string::npos)
        << err.message;
  }
}

TEST(MulticertTest, S15_TicketNumberMustBeNonNegativeInteger) {
  for (const char* bad : {"-1", "abc", "1.5", "3x", "", "99999999999"}) {
    auto err = parseFail("# c\n\n\nssl_cert_name=a.pem ssl_ticket_number=" + std::string(bad));
    EXPECT_EQ(err.line, 4);
    EXPECT_NE(err.message.find("ssl_ticket_number '" + std::string(bad) + "'"), std::string::npos)
        << err.message;
    EXPECT_NE(err.message.find("non-negative integer"), std::string::npos) << err.message;
  }
}

TEST(MulticertTest, S15_KeyDialogIsRejected) {
  auto err = parseFail("ssl_cert_name=a.pem ssl_key_dialog=builtin\n");
  EXPECT_EQ(err.line, 1);
  EXPECT_EQ(err.message, "ssl_key_dialog is not supported (keys must be unencrypted)");
}

TEST(MulticertTest, S15_EmptyOcspName) {
  auto err = parseFail("ssl_cert_name=a.pem ssl_ocsp_name=\n");
  EXPECT_EQ(err.line, 1);
  EXPECT_NE(err.message.find("ssl_ocsp_name"), std::string::npos) << err.message;
}

TEST(MulticertTest, S15_EqualsInsideQuotesIsNotASeparator) {
  auto err = parseFail("\"ssl_cert_name=a.pem\"\n");
  EXPECT_EQ(err.line, 1);
  EXPECT_NE(err.message.find("key=value"), std::string::npos) << err.message;
}

// --- loadMulticert ---

class MulticertFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/multicert_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
};

TEST_F(MulticertFileTest, S15_LoadsAndResolvesAgainstFileFolder) {
  const auto path = (dir_ / "ssl_multicert.config").string();
  std::ofstream(path) << "# test\ndest_ip=* ssl_cert_name=leaf.pem ssl_key_name=/k/leaf.key\n";
  auto r = loadMulticert(path);
  ASSERT_TRUE(r.ok()) << r.error().toString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].line, 2);
  EXPECT_EQ((*r)[0].certFiles, std::vector<std::string>{(dir_ / "leaf.pem").string()});
  EXPECT_EQ((*r)[0].keyFiles, std::vector<std::string>{"/k/leaf.key"});
}

TEST_F(MulticertFileTest, S15_LoadErrorNamesTheFile) {
  const auto path = (dir_ / "ssl_multicert.config").string();
  std::ofstream(path) << "ssl_cert_name=a.pem\nssl_cert_name=b.pem bogus=1\n";
  auto r = loadMulticert(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().file, path);
  EXPECT_EQ(r.error().line, 2);
  EXPECT_NE(r.error().message.find("unknown key 'bogus'"), std::string::npos);
}

TEST_F(MulticertFileTest, S15_MissingFileIsLineZero) {
  const auto path = (dir_ / "missing.config").string();
  auto r = loadMulticert(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().file, path);
  EXPECT_EQ(r.error().line, 0);
  EXPECT_EQ(r.error().message, "cannot read: No such file or directory");
}

TEST_F(MulticertFileTest, S15_DirectoryIsNotReadable) {
  auto r = loadMulticert(dir_.string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().line, 0);
  EXPECT_NE(r.error().message.find("cannot read: "), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace tlsgate::config
