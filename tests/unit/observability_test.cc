// The admin endpoint's pieces: admin: and access_log: in tlsgate.yaml, the Prometheus text
// writer, the handshake histogram, the cipher index, request parsing and metric names.
#include <gtest/gtest.h>

#include "admin/admin_endpoint.h"
#include "admin/http_server.h"
#include "admin/metrics.h"
#include "admin/prometheus.h"
#include "config/gateway_config.h"
#include "stats/series.h"

namespace tlsgate {
namespace {

const std::string kPath = "/etc/tlsgate/tlsgate.yaml";
const std::string kMinimal =
    "listeners:\n  - listen: 127.0.0.1:8443\nssl:\n  multicert: m.config\n"
    "routes:\n  default: builtin:inspect\n";

Result<config::GatewayConfig> parse(const std::string& extra) {
  return config::parseGatewayConfig(kMinimal + extra, kPath);
}

TEST(ObservabilityConfigTest, AdminAndAccessLogAreOptional) {
  auto c = parse("");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->admin);
  EXPECT_FALSE(c->accessLog);
}

TEST(ObservabilityConfigTest, AdminListen) {
  auto c = parse("admin:\n  listen: 127.0.0.1:9090\n");
  ASSERT_TRUE(c.ok()) << c.error().toString();
  ASSERT_TRUE(c->admin);
  EXPECT_EQ(c->admin->address.toString(), "127.0.0.1:9090");
  EXPECT_EQ(c->admin->line, 7);
}

TEST(ObservabilityConfigTest, AdminErrorsNameFileAndLine) {
  auto bad = parse("admin:\n  listen: localhost\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().toString().rfind(kPath + ":8: bad admin.listen address", 0), 0u)
      << bad.error().toString();
  auto unknown = parse("admin:\n  port: 9090\n");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().toString().find(kPath + ":8:"), std::string::npos);
  EXPECT_NE(unknown.error().toString().find("port"), std::string::npos);
  auto empty = parse("admin: {}\n");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().toString().find(":7: admin needs listen"), std::string::npos)
      << empty.error().toString();
}

TEST(ObservabilityConfigTest, AccessLogPath) {
  auto file = parse("access_log:\n  path: logs/access.log\n");
  ASSERT_TRUE(file.ok()) << file.error().toString();
  EXPECT_EQ(file->accessLog->path, "/etc/tlsgate/logs/access.log");
  auto abs = parse("access_log: {path: /var/log/tlsgate/access.log}\n");
  ASSERT_TRUE(abs.ok());
  EXPECT_EQ(abs->accessLog->path, "/var/log/tlsgate/access.log");
  auto err = parse("access_log: {path: stderr}\n");
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->accessLog->path, "stderr");
}

TEST(ObservabilityConfigTest, AccessLogErrorsNameFileAndLine) {
  auto empty = parse("access_log:\n  path: \"\"\n");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().toString().find(kPath + ":8: access_log.path must name a file"),
            std::string::npos)
      << empty.error().toString();
  auto unknown = parse("access_log:\n  format: json\n");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().toString().find(kPath + ":8:"), std::string::npos);
}

TEST(PrometheusTextTest, FamiliesSamplesAndEscaping) {
  admin::PrometheusText p;
  p.family("tlsgate_x_total", "counter", "Help with a \\ and\nnewline");
  p.sample("tlsgate_x_total", {}, uint64_t{3});
  p.sample("tlsgate_x_total", {{"file", "a\"b\\c\nd"}, {"k", "v"}}, uint64_t{4});
  p.sample("tlsgate_y", {}, 0.25);
  EXPECT_EQ(p.text(),
            "# HELP tlsgate_x_total Help with a \\\\ and\\nnewline\n"
            "# TYPE tlsgate_x_total counter\n"
            "tlsgate_x_total 3\n"
            "tlsgate_x_total{file=\"a\\\"b\\\\c\\nd\",k=\"v\"} 4\n"
            "tlsgate_y 0.25\n");
}

TEST(PrometheusTextTest, DoublesAreShortAndExact) {
  EXPECT_EQ(admin::PrometheusText::formatDouble(0.0005), "0.0005");
  EXPECT_EQ(admin::PrometheusText::formatDouble(5), "5");
  EXPECT_EQ(admin::PrometheusText::formatDouble(2591999), "2591999");
  EXPECT_EQ(admin::PrometheusText::formatDouble(-12.5), "-12.5");
  EXPECT_EQ(admin::PrometheusText::formatDouble(1.0 / 0.0), "+Inf");
}

TEST(HistogramTest, BucketsFollowPrometheusLe) {
  using stats::LatencyHistogram;
  EXPECT_EQ(LatencyHistogram::bucketOf(0), 0u);
  EXPECT_EQ(LatencyHistogram::bucketOf(500), 0u);  // le="0.0005" includes 500 us
  EXPECT_EQ(LatencyHistogram::bucketOf(501), 1u);
  EXPECT_EQ(LatencyHistogram::bucketOf(5'000'000), stats::kHandshakeBucketsUs.size() - 1);
  EXPECT_EQ(LatencyHistogram::bucketOf(5'000'001), stats::kHandshakeBucketsUs.size());  // +Inf

  LatencyHistogram h;
  for (uint64_t us : {100, 700, 700, 9'000'000}) h.observe(us);
  stats::HistogramTotals t;
  h.addTo(t);
  EXPECT_EQ(t.count(), 4u);
  EXPECT_EQ(t.sumUs, 100u + 700 + 700 + 9'000'000);
  EXPECT_EQ(t.counts[0], 1u);
  EXPECT_EQ(t.counts[1], 2u);
  EXPECT_EQ(t.counts.back(), 1u);
}

TEST(HistogramTest, PrometheusOutputIsCumulative) {
  admin::MetricsSnapshot m;
  m.series.handshake.counts[0] = 2;
  m.series.handshake.counts[3] = 1;
  m.series.handshake.counts.back() = 4;
  m.series.handshake.sumUs = 1'500'000;
  std::string text = admin::toPrometheus(m);
  EXPECT_NE(text.find("# TYPE tlsgate_ssl_handshake_duration_seconds histogram\n"),
            std::string::npos);
  EXPECT_NE(text.find("tlsgate_ssl_handshake_duration_seconds_bucket{le=\"0.0005\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("tlsgate_ssl_handshake_duration_seconds_bucket{le=\"0.0025\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("tlsgate_ssl_handshake_duration_seconds_bucket{le=\"0.005\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("tlsgate_ssl_handshake_duration_seconds_bucket{le=\"5\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("tlsgate_ssl_handshake_duration_seconds_bucket{le=\"+Inf\"} 7\n"),
            std::string::npos);
  EXPECT_NE(text.find("tlsgate_ssl_handshake_duration_seconds_sum 1.5\n"), std::string::npos);
  EXPECT_NE(text.find("tlsgate_ssl_handshake_duration_seconds_count 7\n"), std::string::npos);
}

TEST(MetricNamesTest, CountersGaugesAndMicroseconds) {
  auto success = admin::prometheusName(stats::Counter::kSslSuccessHandshakeIn);
  EXPECT_EQ(success.name, "tlsgate_ssl_total_success_handshake_count_in_total");
  EXPECT_STREQ(success.type, "counter");
  auto time = admin::prometheusName(stats::Counter::kSslTotalHandshakeTimeUs);
  EXPECT_EQ(time.name, "tlsgate_ssl_total_handshake_time_seconds_total");
  EXPECT_DOUBLE_EQ(time.scale, 1e-6);
  auto active = admin::prometheusName(stats::Counter::kConnectionsActive);
  EXPECT_EQ(active.name, "tlsgate_connections_active");
  EXPECT_STREQ(active.type, "gauge");
}

TEST(LabelIndexTest, SameIdSameIndexAndOverflowGoesToOther) {
  stats::LabelIndex index;
  size_t a = index.indexOf(0x1301, "TLS_AES_128_GCM_SHA256");
  size_t b = index.indexOf(0x1302, "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(b, 2u);
  EXPECT_EQ(index.indexOf(0x1301, "TLS_AES_128_GCM_SHA256"), a);
  EXPECT_STREQ(index.name(a), "TLS_AES_128_GCM_SHA256");
  EXPECT_STREQ(index.name(0), "other");
  for (uint16_t id = 0xc000; index.count() < stats::kMaxLabels; ++id) index.indexOf(id, "x");
  EXPECT_EQ(index.indexOf(0xfff0, "late"), 0u);
}

TEST(TlsVersionTest, Names) {
  EXPECT_STREQ(stats::tlsVersionName(stats::tlsVersionIndex(0x0304)), "TLSv1.3");
  EXPECT_STREQ(stats::tlsVersionName(stats::tlsVersionIndex(0x0303)), "TLSv1.2");
  EXPECT_STREQ(stats::tlsVersionName(stats::tlsVersionIndex(0x0300)), "other");
}

TEST(HttpRequestTest, ParsesMethodPathQueryAndBody) {
  admin::HttpRequest r;
  EXPECT_EQ(admin::parseHttpRequest("GET /metrics HTTP/1.1\r\nHost: x\r\n", r), 0);
  EXPECT_EQ(
      admin::parseHttpRequest("POST /debug?tags=ssl HTTP/1.1\r\nContent-Length: 2\r\n\r\nab", r),
      1);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/debug");
  EXPECT_EQ(r.query, "tags=ssl");
  EXPECT_EQ(r.body, "ab");
  EXPECT_EQ(admin::parseHttpRequest("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", r), 0);
  EXPECT_EQ(admin::parseHttpRequest("nonsense\r\n\r\n", r), -1);
  EXPECT_EQ(admin::parseHttpRequest("GET /x HTTP/1.1\r\nContent-Length: 999999\r\n\r\n", r), -2);
  EXPECT_EQ(admin::parseHttpRequest("GET /x HTTP/1.1\r\nX: " + std::string(9000, 'a'), r), -2);
}

TEST(HttpRequestTest, QueryParameters) {
  EXPECT_EQ(admin::queryParam("tags=ssl%2Cnet&x=1", "tags"), "ssl,net");
  EXPECT_EQ(admin::queryParam("x=1&tags=", "tags"), "");
  EXPECT_FALSE(admin::queryParam("x=1", "tags"));
  EXPECT_EQ(admin::percentDecode("%zz%41"), "%zzA");
}

}  // namespace
}  // namespace tlsgate
