// Bytes a peer chooses, in what tlsgate writes and parses: JSON strings stay valid JSON and
// UTF-8 whatever they hold (D7), log lines stay one line (D8), and the HTTP request heads
// of the inspect and admin endpoints (bare LF line ends, bytes outside the grammar).
#include <gtest/gtest.h>

#include "admin/http_request.h"
#include "core/json.h"
#include "core/log.h"
#include "net/http_head.h"
#include "proxy/inspect_request.h"

namespace tlsgate {
namespace {

using namespace std::string_literals;

std::string jsonOf(std::string_view s) {
  std::string out;
  json::appendString(out, s);
  return out;
}

TEST(JsonString, EscapesQuotesBackslashesAndControlBytes) {
  EXPECT_EQ(jsonOf("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(jsonOf("\r\n\t"), R"("\r\n\t")");
  EXPECT_EQ(jsonOf("\x01\x7f"s + '\0'), R"("\u0001\u007f\u0000")");
}

TEST(JsonString, CopiesValidUtf8AsIs) {
  for (std::string s : {"é", "€", "𝄞", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "a.test"})
    EXPECT_EQ(jsonOf(s), '"' + s + '"') << s;
}

TEST(JsonString, WritesEachByteOfNoUtf8CharacterAsU00) {
  EXPECT_EQ(jsonOf("\xff"), R"("\u00ff")");
  EXPECT_EQ(jsonOf("a\xc3"), R"("a\u00c3")");                              // truncated sequence
  EXPECT_EQ(jsonOf("\xc3("), R"("\u00c3(")");                              // bad continuation
  EXPECT_EQ(jsonOf("\xc0\xaf"), R"("\u00c0\u00af")");                      // overlong '/'
  EXPECT_EQ(jsonOf("\xe0\x80\xaf"), R"("\u00e0\u0080\u00af")");            // overlong, 3 bytes
  EXPECT_EQ(jsonOf("\xed\xa0\x80"), R"("\u00ed\u00a0\u0080")");            // a UTF-16 surrogate
  EXPECT_EQ(jsonOf("\xf4\x90\x80\x80"), R"("\u00f4\u0090\u0080\u0080")");  // > U+10FFFF
  EXPECT_EQ(jsonOf("\x80\xe9t\xc3\xa9"), R"("\u0080\u00e9té")");           // valid after invalid
}

TEST(JsonString, EveryStringOfOneOrTwoBytesGivesValidJson) {
  // Of these, only C2..DF followed by 80..BF is a UTF-8 character: it is copied, and every
  // other output is printable ASCII.
  for (int a = 0; a < 256; ++a) {
    for (int b = -1; b < 256; ++b) {
      std::string s(1, static_cast<char>(a));
      if (b >= 0) s += static_cast<char>(b);
      std::string out = jsonOf(s);
      if (a >= 0xc2 && a <= 0xdf && b >= 0x80 && b <= 0xbf) {
        EXPECT_EQ(out, '"' + s + '"');
        continue;
      }
      for (unsigned char c : out) ASSERT_TRUE(c >= 0x20 && c < 0x7f) << a << ' ' << b;
    }
  }
}

TEST(LogEscape, QuotesWhatAPeerSent) {
  EXPECT_EQ(log::escaped("a\r\n[ssl.error] forged"), "a\\x0d\\x0a[ssl.error] forged");
  EXPECT_EQ(log::escaped("back\\slash"), "back\\slash");  // escaped once, never twice
  EXPECT_EQ(log::escaped("\xff"s + '\0'), "\\xff\\x00");
}

TEST(LogLine, AControlByteNeverBreaksALine) {
  testing::internal::CaptureStderr();
  log::info("sni '%s' and a back\\slash", "x\r\n[ssl.error] forged\x1b[2J");
  std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(out, "tlsgate: sni 'x\\x0d\\x0a[ssl.error] forged\\x1b[2J' and a back\\slash\n");
}

// ---- the HTTP/1.x request head ----

net::HttpHeadResult head(std::string_view in) {
  return net::parseHttpHead(in, 1024);
}

TEST(HttpHead, ParsesCrlfAndBareLfAlike) {
  for (std::string in :
       {"GET /x HTTP/1.1\r\nHost: a\r\nX-Y:  z \r\n\r\n", "GET /x HTTP/1.1\nHost: a\nX-Y:  z \n\n",
        "GET /x HTTP/1.1\r\nHost: a\nX-Y:  z \r\n\n"}) {
    auto r = head(in);
    ASSERT_EQ(r.status, net::HttpHeadStatus::kDone) << in;
    EXPECT_EQ(r.head.method, "GET");
    EXPECT_EQ(r.head.target, "/x");
    EXPECT_EQ(r.head.version, "HTTP/1.1");
    ASSERT_EQ(r.head.headers.size(), 2u);
    EXPECT_EQ(r.head.headers[1].name, "X-Y");
    EXPECT_EQ(r.head.headers[1].value, "z");
    EXPECT_EQ(r.head.size, in.size());
    EXPECT_EQ(net::findHeader(r.head, "host")->value, "a");
  }
}

TEST(HttpHead, NeedsMoreUntilTheEmptyLine) {
  const std::string in = "GET / HTTP/1.0\nA: b\n\n";
  for (size_t n = 0; n < in.size(); ++n)
    EXPECT_EQ(head(in.substr(0, n)).status, net::HttpHeadStatus::kNeedMore) << n;
  EXPECT_EQ(head("\r\n\nGET / HTTP/1.0\n\n").status, net::HttpHeadStatus::kDone);
}

TEST(HttpHead, RefusesBytesOutsideTheGrammar) {
  for (std::string in :
       {"GET / HTTP/1.1\r\nA\0: b\r\n\r\n"s, "GET / HTTP/1.1\r\nA: b\0c\r\n\r\n"s,
        "GET /\0 HTTP/1.1\r\n\r\n"s, "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n"s,
        "GET / HTTP/1.1\r\nA : b\r\n\r\n"s, "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n"s,
        "GET / HTTP/1.1\r\nno colon\r\n\r\n"s, "GET  / HTTP/1.1\r\n\r\n"s,
        "GET / HTTP/2.0\r\n\r\n"s, "GET /\tx HTTP/1.1\r\n\r\n"s, "G(T / HTTP/1.1\r\n\r\n"s,
        "GET / HTTP/1.1 \r\n\r\n"s, "nonsense\n\n"s})
    EXPECT_EQ(head(in).status, net::HttpHeadStatus::kBad) << in;
}

TEST(HttpHead, IsTooLargeOnlyPastTheBound) {
  EXPECT_EQ(head(std::string(1024, '\n')).status, net::HttpHeadStatus::kNeedMore);
  EXPECT_EQ(head(std::string(1025, '\n')).status, net::HttpHeadStatus::kTooLarge);
  std::string big = "GET / HTTP/1.1\r\nX: " + std::string(1100, 'a');
  EXPECT_EQ(head(big).status, net::HttpHeadStatus::kTooLarge);
}

// ---- the inspect endpoint's requests ----

using InspectKind = proxy::InspectRequest::Kind;

TEST(InspectRequest, AnswersBareLfRequests) {
  auto r = proxy::parseInspectRequest("GET / HTTP/1.0\n\n");
  EXPECT_EQ(r.kind, InspectKind::kAnswer);
  EXPECT_FALSE(r.keepAlive);
  EXPECT_EQ(r.consumed, 16u);
  r = proxy::parseInspectRequest("GET / HTTP/1.1\nHost: a\n\nGET / HTTP/1.1\n\n");
  EXPECT_EQ(r.kind, InspectKind::kAnswer);
  EXPECT_TRUE(r.keepAlive);
  EXPECT_EQ(r.consumed, 24u);
}

TEST(InspectRequest, KeepAliveAsHttpSays) {
  EXPECT_FALSE(proxy::parseInspectRequest("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").keepAlive);
  EXPECT_TRUE(
      proxy::parseInspectRequest("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keepAlive);
  EXPECT_TRUE(proxy::parseInspectRequest("GET / HTTP/1.1\r\nConnection: x, y\r\n\r\n").keepAlive);
}

TEST(InspectRequest, RefusesBodiesBadHeadsAndHugeHeads) {
  EXPECT_EQ(proxy::parseInspectRequest("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n").kind,
            InspectKind::kBody);
  EXPECT_EQ(proxy::parseInspectRequest("POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n").kind,
            InspectKind::kBody);
  EXPECT_EQ(proxy::parseInspectRequest("GET / HTTP/1.1\r\nContent-Length: 00\r\n\r\n").kind,
            InspectKind::kAnswer);
  EXPECT_EQ(proxy::parseInspectRequest("GET / HTTP/1.1\r\nX: \0\r\n\r\n"s).kind, InspectKind::kBad);
  EXPECT_EQ(proxy::parseInspectRequest("SSH-2.0-OpenSSH\r\n\r\n").kind, InspectKind::kBad);
  EXPECT_EQ(proxy::parseInspectRequest("GET / HTTP/1.1\r\n").kind, InspectKind::kNeedMore);
  EXPECT_EQ(proxy::parseInspectRequest(std::string(proxy::kInspectMaxHead + 1, 'a')).kind,
            InspectKind::kTooLarge);
}

// ---- the admin endpoint's requests ----

TEST(AdminRequest, AcceptsBareLf) {
  admin::HttpRequest r;
  ASSERT_EQ(admin::parseHttpRequest("POST /debug?tags=ssl HTTP/1.0\nContent-Length: 2\n\nab", r),
            1);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/debug");
  EXPECT_EQ(r.query, "tags=ssl");
  EXPECT_EQ(r.body, "ab");
}

TEST(AdminRequest, RefusesAmbiguousLengthsAndBadBytes) {
  admin::HttpRequest r;
  EXPECT_EQ(admin::parseHttpRequest("POST / HTTP/1.1\r\nContent-Length: 2x\r\n\r\nab", r), -1);
  EXPECT_EQ(admin::parseHttpRequest("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", r), -1);
  EXPECT_EQ(admin::parseHttpRequest("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", r), -1);
  EXPECT_EQ(admin::parseHttpRequest(
                "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", r),
            -1);
  EXPECT_EQ(admin::parseHttpRequest(
                "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", r),
            -2);
  EXPECT_EQ(admin::parseHttpRequest("GET x HTTP/1.1\r\n\r\n", r), -1);
  EXPECT_EQ(admin::parseHttpRequest("GET /\0 HTTP/1.1\r\n\r\n"s, r), -1);
}

}  // namespace
}  // namespace tlsgate
