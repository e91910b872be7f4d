// When the ACME client renews (acme/renewal.h), how it reads the server's dates
// (Retry-After, RFC 3339), and the order state machine's steps (acme/order_flow.h).
#include "acme/renewal.h"

#include <gtest/gtest.h>

#include "acme/client.h"
#include "acme/http_session.h"
#include "acme/order_flow.h"

namespace tlsgate::acme {
namespace {

using std::chrono::seconds;

constexpr std::time_t kDay = 86400;

TEST(AcmeRenewal, RenewsWithAThirdOfTheLifetimeLeftWithoutJitter) {
  RenewalPolicy policy;
  policy.jitterShare = 0;
  // 90 days: renew 30 days before the end, whatever the random number.
  EXPECT_EQ(renewalTime(0, 90 * kDay, policy, 0.0), 60 * kDay);
  EXPECT_EQ(renewalTime(0, 90 * kDay, policy, 1.0), 60 * kDay);
  EXPECT_EQ(renewalTime(1000, 1000 + 9 * kDay, policy, 0.5), 1000 + 6 * kDay);
}

TEST(AcmeRenewal, JitterMovesTheTimeEarlierByAtMostItsShare) {
  RenewalPolicy policy;  // 1/3 left, 5 % jitter
  std::time_t lifetime = 100 * kDay;
  std::time_t latest = renewalTime(0, lifetime, policy, 0.0);
  std::time_t earliest = renewalTime(0, lifetime, policy, 1.0);
  EXPECT_NEAR(static_cast<double>(latest), lifetime * 2.0 / 3, 1);
  // 5 % of the two thirds before the renewal point.
  EXPECT_NEAR(static_cast<double>(latest - earliest), lifetime * 0.05 * 2 / 3, 1);
  std::time_t middle = renewalTime(0, lifetime, policy, 0.5);
  EXPECT_LT(middle, latest);
  EXPECT_GT(middle, earliest);
  // Out-of-range random numbers stay inside the bounds.
  EXPECT_EQ(renewalTime(0, lifetime, policy, 7.0), earliest);
  EXPECT_EQ(renewalTime(0, lifetime, policy, -1.0), latest);
}

// A renewal point near notBefore (renew_remaining 0.999, as the tests force renewal) must
// not be pulled back to notBefore by the jitter: the new certificate would be renewed again
// as soon as it arrived.
TEST(AcmeRenewal, JitterNeverReachesNotBefore) {
  RenewalPolicy policy;
  policy.remainingShare = 0.999;
  std::time_t lifetime = 1000 * kDay;
  EXPECT_GT(renewalTime(0, lifetime, policy, 1.0), 0);
  EXPECT_NEAR(static_cast<double>(renewalTime(0, lifetime, policy, 1.0)), lifetime * 0.001 * 0.95,
              1);
}

TEST(AcmeRenewal, NeverBeforeNotBefore) {
  RenewalPolicy policy;
  policy.remainingShare = 1.5;  // nonsense: would be before the certificate starts
  EXPECT_EQ(renewalTime(5000, 5000 + kDay, policy, 1.0), 5000);
  EXPECT_EQ(renewalTime(5000, 4000, RenewalPolicy{}, 0.5), 5000);  // reversed dates
}

TEST(AcmeRenewal, AriTimeIsInTheWindow) {
  RenewalWindow window{1000, 2000, seconds(0)};
  EXPECT_EQ(ariRenewalTime(window, 0.0), 1000);
  EXPECT_EQ(ariRenewalTime(window, 0.5), 1500);
  EXPECT_EQ(ariRenewalTime(window, 1.0), 2000);
  EXPECT_EQ(ariRenewalTime(window, 3.0), 2000);
  EXPECT_EQ(ariRenewalTime(RenewalWindow{3000, 2000, seconds(0)}, 0.5), 3000);
}

TEST(AcmeRenewal, FailureBackoffDoublesFromTenSecondsToAnHour) {
  std::time_t now = 0, far = 365 * kDay;
  EXPECT_EQ(failureBackoff(1, now, far), seconds(10));
  EXPECT_EQ(failureBackoff(2, now, far), seconds(20));
  EXPECT_EQ(failureBackoff(3, now, far), seconds(40));
  EXPECT_EQ(failureBackoff(9, now, far), seconds(2560));
  EXPECT_EQ(failureBackoff(10, now, far), seconds(3600));
  EXPECT_EQ(failureBackoff(1000, now, far), seconds(3600));
  EXPECT_EQ(failureBackoff(0, now, far), seconds(10));
}

TEST(AcmeRenewal, FailureBackoffIsAtMostATenthOfWhatIsLeftButAtLeastTenSeconds) {
  EXPECT_EQ(failureBackoff(7, 0, 5000), seconds(500));
  EXPECT_EQ(failureBackoff(7, 0, 50), seconds(10));
  EXPECT_EQ(failureBackoff(3, 1000, 10), seconds(10));  // already expired
}

TEST(AcmeDates, RetryAfterIsSecondsOrAnHttpDate) {
  EXPECT_EQ(parseRetryAfter("120", 0), seconds(120));
  EXPECT_EQ(parseRetryAfter(" 0 ", 0), seconds(0));
  // Sun, 06 Nov 1994 08:49:37 GMT = 784111777 (RFC 9110's example date).
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 30), seconds(30));
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 30), seconds(0));
  EXPECT_FALSE(parseRetryAfter("soon", 0));
  EXPECT_FALSE(parseRetryAfter("", 0));
}

TEST(AcmeDates, Rfc3339WithFractionsAndOffsets) {
  EXPECT_EQ(parseRfc3339("1994-11-06T08:49:37Z"), 784111777);
  EXPECT_EQ(parseRfc3339("1994-11-06T08:49:37.123456Z"), 784111777);
  EXPECT_EQ(parseRfc3339("1994-11-06T10:49:37+02:00"), 784111777);
  EXPECT_EQ(parseRfc3339("1994-11-06T07:49:37-01:00"), 784111777);
  EXPECT_FALSE(parseRfc3339("1994-11-06T08:49:37"));
  EXPECT_FALSE(parseRfc3339("1994-11-06"));
  EXPECT_FALSE(parseRfc3339("yesterday"));
}

Order orderWith(const std::string& status, const std::string& certificateUrl = "") {
  Order order;
  order.status = status;
  order.certificateUrl = certificateUrl;
  return order;
}

TEST(AcmeOrderFlow, NextStepForEveryStatus) {
  EXPECT_EQ(nextStep(orderWith("pending")), OrderStep::kAuthorize);
  EXPECT_EQ(nextStep(orderWith("pending"), true), OrderStep::kWaitForAuthorizations);
  EXPECT_EQ(nextStep(orderWith("ready")), OrderStep::kFinalize);
  EXPECT_EQ(nextStep(orderWith("ready"), true), OrderStep::kFinalize);
  EXPECT_EQ(nextStep(orderWith("processing"), true), OrderStep::kWaitForIssuance);
  EXPECT_EQ(nextStep(orderWith("valid", "https://ca/cert/1")), OrderStep::kDownload);
  EXPECT_EQ(nextStep(orderWith("valid")), OrderStep::kFailed);  // no certificate URL
  EXPECT_EQ(nextStep(orderWith("invalid")), OrderStep::kFailed);
  EXPECT_EQ(nextStep(orderWith("")), OrderStep::kFailed);
  EXPECT_EQ(nextStep(orderWith("deactivated")), OrderStep::kFailed);
  EXPECT_STREQ(toString(OrderStep::kWaitForIssuance), "wait for issuance");
}

}  // namespace
}  // namespace tlsgate::acme
