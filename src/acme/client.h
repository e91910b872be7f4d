// Client: one ACME account's conversation with one ACME server (RFC 8555), synchronous,
// over one reused libcurl handle. Not thread-safe: one thread (the ACME manager's) owns it.
//
// Every request but the directory, newNonce and renewalInfo GETs is a JWS-signed POST
// (acme/jws.h). Replay-Nonces are kept from every response; a badNonce error is retried
// with the error's fresh nonce, up to 5 times. Errors carry the URL and the server's
// problem document (type, detail). A 429 or 503 with Retry-After fails with a message that
// says so, and lastRetryAfter() tells the caller how long the server asked it to wait.
#pragma once

#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "acme/http_session.h"
#include "acme/jws.h"
#include "core/result.h"

namespace tlsgate::acme {

struct ClientOptions {
  std::string directoryUrl;
  std::string caFile;                // verifies the server; empty: the system's trust store
  std::vector<std::string> contact;  // "mailto:..." URLs for newAccount
};

struct Challenge {
  std::string type, url, token, status;
  std::string error;  // the problem document of an invalid challenge, "" otherwise
};

struct Authorization {
  std::string url, identifier, status;
  bool wildcard = false;
  std::vector<Challenge> challenges;
  std::chrono::seconds retryAfter{0};  // the server's polling hint, 0 when none
};

struct Order {
  std::string url, status, finalizeUrl, certificateUrl, error;
  std::vector<std::string> authorizations;
  std::chrono::seconds retryAfter{0};
};

// RFC 9773 section 4.2: when the server suggests renewing.
struct RenewalWindow {
  std::time_t start = 0, end = 0;
  std::chrono::seconds retryAfter{0};  // when to ask again
};

class Client {
 public:
  Client(ClientOptions options, AccountKey key);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // GETs the directory. Errors name its URL.
  Status connect();
  // newAccount (termsOfServiceAgreed, contact); the account URL ("kid"). An existing
  // account answers 200 with the same URL, so calling it again is harmless.
  Result<std::string> account();
  // newOrder for the DNS names; replacesCertId (RFC 9773 section 5) when renewing through
  // ARI. The calls below connect and create the account first when that has not been done.
  Result<Order> newOrder(const std::vector<std::string>& names,
                         const std::string& replacesCertId = "");
  Result<Authorization> authorization(const std::string& url);
  // Tells the server the challenge is ready to be validated (POST {}).
  Status acceptChallenge(const Challenge& challenge);
  Result<Order> order(const std::string& url);
  // csrDer: the DER CSR (acme/certificate_request.h).
  Result<Order> finalize(const Order& order, const std::string& csrDer);
  // The PEM chain at the order's certificate URL, leaf first.
  Result<std::string> certificate(const std::string& url);
  // Whether the directory has renewalInfo (ARI); after connect().
  bool offersRenewalInfo() const;
  Result<RenewalWindow> renewalInfo(const std::string& ariCertId);

  const AccountKey& key() const { return key_; }
  // The Retry-After of the last response (0 when it had none): after a rate-limit (429) or
  // unavailable (503) error, how long the server asked the client to wait.
  std::chrono::seconds lastRetryAfter() const { return lastRetryAfter_; }

 private:
  struct Directory {
    std::string newNonce, newAccount, newOrder, renewalInfo;
  };
  Result<HttpResponse> send(const std::string& method, const std::string& url,
                            const std::string& body, const std::string& accept);
  Result<HttpResponse> get(const std::string& url);
  Result<HttpResponse> post(const std::string& url, const std::optional<std::string>& payload,
                            const std::string& accept = "application/json");
  Result<std::string> nonce();
  Status ready();

  ClientOptions options_;
  AccountKey key_;
  HttpSession http_;
  std::optional<Directory> directory_;
  std::string kid_;
  std::string nonce_;
  std::chrono::seconds lastRetryAfter_{0};
};

}  // namespace tlsgate::acme
