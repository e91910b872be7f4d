// Obtaining a certificate: the order's state machine (RFC 8555 section 7.1.6) as a pure
// function, and issue(), the driver that walks an order through it on one Client.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "acme/certificate_request.h"
#include "acme/client.h"
#include "core/result.h"

namespace tlsgate::acme {

enum class OrderStep {
  kAuthorize,              // pending, challenges not yet answered: answer them
  kWaitForAuthorizations,  // pending after that: poll the order
  kFinalize,               // ready: send the CSR
  kWaitForIssuance,        // processing: poll the order
  kDownload,               // valid: fetch the certificate
  kDone,
  kFailed,  // invalid, or a status that makes no sense
};
const char* toString(OrderStep step);

// The next step for `order`; `authorized` says whether its authorizations were already
// worked on (then a pending order only needs waiting).
OrderStep nextStep(const Order& order, bool authorized = false);

// Where the challenges are served from while the server validates them: the gateway's
// tls-alpn-01 certificates and http-01 tokens (through the fleet when there is one).
struct ChallengeSink {
  virtual ~ChallengeSink() = default;
  virtual Status publish(const Authorization& authorization, const Challenge& challenge,
                         const std::string& keyAuthorization) = 0;
  virtual void withdraw(const Authorization& authorization, const Challenge& challenge) = 0;
};

struct IssueOptions {
  std::vector<std::string> names;
  KeyType keyType = KeyType::kEcdsaP256;
  // In order of preference: the first one an authorization offers is used.
  std::vector<std::string> challengeTypes = {"tls-alpn-01", "http-01"};
  std::string replacesCertId;  // ARI (RFC 9773 section 5); "" when not renewing through it
  std::chrono::seconds deadline{300};
  std::chrono::milliseconds pollInterval{1000};
  std::function<bool()> stopping;  // polled while waiting; true ends issue() early
};

struct Issued {
  std::string chainPem, keyPem;
};

// newOrder, then for each pending authorization: publish the preferred challenge through
// `sink`, accept it, poll until valid or invalid (at least pollInterval apart, longer when
// the server's Retry-After says so), withdraw it (always); finalize with a CSR of a new key;
// poll until valid; download. Errors say which step failed and why, or that the deadline
// passed or stopping() turned true.
Result<Issued> issue(Client& client, ChallengeSink& sink, const IssueOptions& options);

}  // namespace tlsgate::acme
