// The admin endpoint's certificate views (issue 19): the /certs query (pages, a name) and
// its answers, the expiry index, and what /metrics and /health show of the store, small and
// large, against a GatewayControl made up here.
#include <gtest/gtest.h>

#include <variant>

#include "admin/admin_endpoint.h"
#include "admin/certs_view.h"
#include "admin/expiry_index.h"
#include "admin/metrics.h"

namespace tlsgate {
namespace {

using admin::CertsQuery;
using admin::CertsQueryError;

CertsQuery good(std::string_view query) {
  auto parsed = admin::parseCertsQuery(query);
  EXPECT_TRUE(std::holds_alternative<CertsQuery>(parsed)) << query;
  return std::holds_alternative<CertsQuery>(parsed) ? std::get<CertsQuery>(parsed) : CertsQuery{};
}

CertsQueryError bad(std::string_view query) {
  auto parsed = admin::parseCertsQuery(query);
  EXPECT_TRUE(std::holds_alternative<CertsQueryError>(parsed)) << query;
  return std::holds_alternative<CertsQueryError>(parsed) ? std::get<CertsQueryError>(parsed)
                                                         : CertsQueryError{};
}

TEST(CertsQueryTest, DefaultsOffsetLimitAndName) {
  CertsQuery none = good("");
  EXPECT_EQ(none.offset, 0u);
  EXPECT_EQ(none.limit, 100u);
  EXPECT_FALSE(none.name);
  CertsQuery page = good("offset=200&limit=1000");
  EXPECT_EQ(page.offset, 200u);
  EXPECT_EQ(page.limit, 1000u);
  EXPECT_EQ(good("limit=1&&offset=0").limit, 1u);
  CertsQuery named = good("name=Shop.Example.COM");
  EXPECT_EQ(named.name, "shop.example.com");
  EXPECT_EQ(good("name=%2A.wild.test").name, "*.wild.test");
}

TEST(CertsQueryTest, BadValuesNameTheParameter) {
  for (const char* q : {"limit=0", "limit=1001", "limit=", "limit=-1", "limit=1e3", "limit=+5",
                        "limit=%205", "limit"}) {
    CertsQueryError e = bad(q);
    EXPECT_EQ(e.parameter, "limit") << q;
    EXPECT_EQ(e.problem.rfind("limit: must be an integer from 1 to 1000", 0), 0u) << e.problem;
  }
  for (const char* q : {"offset=-1", "offset=x", "offset=", "offset=9999999999999"}) {
    CertsQueryError e = bad(q);
    EXPECT_EQ(e.parameter, "offset") << q;
    EXPECT_NE(e.problem.find("non-negative integer"), std::string::npos) << e.problem;
  }
  EXPECT_EQ(bad("ofset=5").parameter, "ofset");
  EXPECT_EQ(bad("ofset=5").problem, "ofset: unknown parameter (offset, limit or name)");
  EXPECT_EQ(bad("limit=5&limit=6").problem, "limit: given twice");
  EXPECT_EQ(bad("name=").parameter, "name");
  EXPECT_EQ(bad("name=a.test&offset=0").problem, "name: cannot be combined with offset or limit");
}

TEST(ExpiryIndexTest, SoonestAndCountsBefore) {
  admin::ExpiryIndex empty;
  EXPECT_FALSE(empty.soonest());
  EXPECT_EQ(empty.countBefore(1000), 0u);
  admin::ExpiryIndex index({500, 100, 300, 300});
  EXPECT_EQ(index.soonest(), 100);
  EXPECT_EQ(index.countBefore(100), 0u);  // notAfter 100 is not before 100
  EXPECT_EQ(index.countBefore(101), 1u);
  EXPECT_EQ(index.countBefore(301), 3u);
  EXPECT_EQ(index.countBefore(10000), 4u);
}

// A store of `entries` entries, entry i with certificate "c<i>.crt" for "n<i>.test",
// expiring at kNow + i days; entry 0 is the default.
class FakeControl : public admin::GatewayControl {
 public:
  static constexpr std::time_t kDay = 86400;
  explicit FakeControl(size_t entries) : entries_(entries) {}

  admin::ReloadResult reload() override { return {}; }
  admin::ReloadStatus reloadStatus() const override { return {}; }
  stats::Totals counters() const override { return {}; }
  void reopenLogs() override {}

  admin::CertificatePage certificatePage(size_t offset, size_t limit) const override {
    rowsAsked_ += limit;
    admin::CertificatePage page{"/etc/m.config", entries_, {}};
    for (size_t i = offset; i < entries_ && i < offset + limit; ++i) page.rows.push_back(row(i));
    return page;
  }
  admin::NamedCertificates certificatesNamed(std::string_view name) const override {
    admin::NamedCertificates found{"/etc/m.config", entries_, admin::NameMatch::kNone, {}};
    if (name == "n3.test") {
      found.match = admin::NameMatch::kExact;
      found.rows.push_back(row(3));
    }
    return found;
  }
  admin::CertificateStoreStatus certificateStore() const override {
    admin::CertificateStoreStatus status;
    status.entries = status.certificates = entries_;
    status.skipped = skipped_;
    status.residentBytes = entries_ * 900;
    status.loadDuration = std::chrono::milliseconds(1500);
    status.cacheEntries = 7;
    status.cacheCapacity = 10000;
    return status;
  }
  std::shared_ptr<const admin::ExpiryIndex> certificateExpiry() const override {
    std::vector<std::time_t> notAfters;
    for (size_t i = 0; i < entries_; ++i) notAfters.push_back(row(i).notAfter);
    return std::make_shared<const admin::ExpiryIndex>(std::move(notAfters));
  }
  std::vector<admin::ManagedCertificateRow> managedCertificates() const override { return {}; }

  // notAfter of entry i: i days from now, entry 1 expired yesterday.
  admin::CertificateRow row(size_t i) const {
    const std::string n = std::to_string(i);
    admin::CertificateRow r;
    r.file = "c" + n + ".crt";
    r.line = static_cast<int>(i + 1);
    r.subject = "CN=n" + n + ".test";
    r.names = {"n" + n + ".test"};
    r.keyType = "EC-prime256v1";
    r.notAfter = i == 1 ? now_ - kDay : now_ + static_cast<std::time_t>(i) * kDay;
    r.sha256 = "ab";
    r.isDefault = i == 0;
    return r;
  }

  size_t entries_;
  size_t skipped_ = 0;
  std::time_t now_ = std::time(nullptr) + 3600;  // no row expires during the test
  mutable size_t rowsAsked_ = 0;
};

admin::HttpResponse get(admin::GatewayControl& control, const std::string& path,
                        const std::string& query = "") {
  stats::CounterRegistry registry;
  admin::AdminEndpoint endpoint(control, registry);
  admin::HttpRequest r;
  r.method = "GET";
  r.path = path;
  r.query = query;
  return endpoint.handle(r);
}

TEST(CertsViewTest, PagesSayTotalOffsetLimitAndNext) {
  FakeControl control(250);
  auto first = get(control, "/certs");
  EXPECT_EQ(first.status, 200);
  EXPECT_NE(first.body.find("\"total\": 250, \"offset\": 0, \"limit\": 100, \"next\": 100,"),
            std::string::npos);
  auto last = get(control, "/certs", "offset=200&limit=100");
  EXPECT_NE(last.body.find("\"offset\": 200, \"limit\": 100, \"next\": null,"), std::string::npos);
  EXPECT_NE(last.body.find("\"c249.crt\""), std::string::npos);
  EXPECT_EQ(last.body.find("\"c199.crt\""), std::string::npos);
  auto past = get(control, "/certs", "offset=900");
  EXPECT_NE(past.body.find("\"next\": null, \"certificates\": []"), std::string::npos);
  EXPECT_NE(past.body.find("\"expired\": 1}"), std::string::npos);  // the whole store's
}

TEST(CertsViewTest, BadQueryIs400NamingTheParameter) {
  FakeControl control(3);
  auto r = get(control, "/certs", "limit=5000");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            "{\"error\": \"limit: must be an integer from 1 to 1000, not '5000'\", "
            "\"parameter\": \"limit\"}\n");
}

TEST(CertsViewTest, NameSaysHowItMatched) {
  FakeControl control(5);
  auto hit = get(control, "/certs", "name=N3.test");
  EXPECT_NE(hit.body.find("\"name\": \"n3.test\", \"match\": \"exact\", \"certificates\": "
                          "[{\"file\": \"c3.crt\""),
            std::string::npos)
      << hit.body;
  auto miss = get(control, "/certs", "name=nope.test");
  EXPECT_NE(miss.body.find("\"match\": null, \"certificates\": []"), std::string::npos);
}

bool has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(CertificateMetricsTest, SmallStoreHasASeriesPerCertificate) {
  FakeControl control(10);
  stats::CounterRegistry registry;
  admin::MetricsSnapshot m = admin::collectMetrics(control, registry);
  EXPECT_TRUE(m.certificateSummary.perCertificate);
  EXPECT_EQ(m.certificates.size(), 10u);
  std::string text = admin::toPrometheus(m);
  EXPECT_TRUE(has(text, "tlsgate_certificates_entries 10"));
  EXPECT_TRUE(has(text, "tlsgate_certificates_resident_bytes 9000"));
  EXPECT_TRUE(has(text, "tlsgate_certificates_load_seconds 1.5"));
  EXPECT_TRUE(has(text, "tlsgate_certificate_cache_entries 7"));
  EXPECT_TRUE(has(text, "tlsgate_certificate_cache_capacity 10000"));
  EXPECT_NE(text.find("tlsgate_certificate_expiry_seconds{file=\"c9.crt\""), std::string::npos);
}

TEST(CertificateMetricsTest, LargeStoreHasOnlyTheSummary) {
  FakeControl control(admin::CertificateSummary::kPerCertificateLimit + 1);
  control.skipped_ = 2;
  stats::CounterRegistry registry;
  admin::MetricsSnapshot m = admin::collectMetrics(control, registry);
  EXPECT_EQ(control.rowsAsked_, 0u);  // no row was built for the scrape
  EXPECT_FALSE(m.certificateSummary.perCertificate);
  EXPECT_TRUE(m.certificates.empty());
  std::string text = admin::toPrometheus(m);
  EXPECT_EQ(text.find("tlsgate_certificate_expiry_seconds{"), std::string::npos);
  EXPECT_TRUE(has(text, "tlsgate_certificates_skipped 2"));
  EXPECT_TRUE(has(text, "tlsgate_certificates_expired 1"));  // entry 1
  // Entries 0 and 2..6 expire within 7 days (entry 7 at now + 7 days, plus the hour of
  // now_): 6, and the soonest is entry 1, a day ago.
  EXPECT_TRUE(has(text, "tlsgate_certificates_expiring_soon 6"));
  auto soonest = m.certificateSummary.soonest;
  ASSERT_TRUE(soonest);
  EXPECT_EQ(*soonest, control.now_ - FakeControl::kDay);
  EXPECT_NE(admin::toStatsJson(m).find("\"per_certificate\": false}"), std::string::npos);
}

TEST(CertificateHealthTest, SkippedEntriesAreOkButDegraded) {
  FakeControl control(4);
  auto fine = get(control, "/health");
  EXPECT_NE(fine.body.find("\"status\": \"ok\", \"degraded\": null"), std::string::npos);
  EXPECT_NE(fine.body.find("\"certificates\": {\"entries\": 4, \"loaded\": 4, \"skipped\": 0, "
                           "\"resident_bytes\": 3600, \"load_ms\": 1500}"),
            std::string::npos)
      << fine.body;
  control.skipped_ = 1;
  auto degraded = get(control, "/health");
  EXPECT_EQ(degraded.status, 200);
  EXPECT_NE(degraded.body.find("\"status\": \"ok\", \"degraded\": \"1 ssl_multicert.config "
                               "entry skipped"),
            std::string::npos)
      << degraded.body;
}

}  // namespace
}  // namespace tlsgate
