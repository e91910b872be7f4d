#include "acme/client.h"

#include <nlohmann/json.hpp>

namespace tlsgate::acme {

namespace {

using Json = nlohmann::json;

constexpr int kBadNonceRetries = 5;
constexpr const char* kBadNonce = "urn:ietf:params:acme:error:badNonce";

// Members read defensively: a server's odd JSON is an error message, never an exception.
std::string text(const Json& object, const char* name) {
  if (!object.is_object()) return {};
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Json parseObject(const std::string& body) {
  Json parsed = Json::parse(body, nullptr, false);
  return parsed.is_object() ? parsed : Json::object();
}

// "type: detail" of a problem document (RFC 7807), with its subproblems (RFC 8555 6.7.1).
std::string problemText(const Json& problem) {
  std::string out = text(problem, "type");
  std::string detail = text(problem, "detail");
  if (!detail.empty()) out += (out.empty() ? "" : ": ") + detail;
  auto sub = problem.is_object() ? problem.find("subproblems") : problem.end();
  if (problem.is_object() && sub != problem.end() && sub->is_array())
    for (const Json& one : *sub) out += " [" + problemText(one) + "]";
  return out;
}

std::chrono::seconds retryAfterOf(const HttpResponse& response) {
  return response.retryAfter.value_or(std::chrono::seconds(0));
}

Error httpError(const std::string& method, const std::string& url, const HttpResponse& response) {
  std::string message = method + " " + url + ": HTTP " + std::to_string(response.status);
  std::string problem = problemText(parseObject(response.body));
  if (!problem.empty()) message += ": " + problem;
  if ((response.status == 429 || response.status == 503) && response.retryAfter)
    message += (response.status == 429 ? " (rate limited" : " (server unavailable") +
               std::string(", retry after ") + std::to_string(response.retryAfter->count()) + " s)";
  return Error{"", 0, message};
}

std::vector<std::string> strings(const Json& object, const char* name) {
  std::vector<std::string> out;
  auto it = object.find(name);
  if (it == object.end() || !it->is_array()) return out;
  for (const Json& one : *it)
    if (one.is_string()) out.push_back(one.get<std::string>());
  return out;
}

Order orderOf(const HttpResponse& response, const std::string& url) {
  Json json = parseObject(response.body);
  Order order;
  order.url = url;
  order.status = text(json, "status");
  order.finalizeUrl = text(json, "finalize");
  order.certificateUrl = text(json, "certificate");
  order.authorizations = strings(json, "authorizations");
  if (json.contains("error")) order.error = problemText(json["error"]);
  order.retryAfter = retryAfterOf(response);
  return order;
}

Challenge challengeOf(const Json& json) {
  Challenge challenge;
  challenge.type = text(json, "type");
  challenge.url = text(json, "url");
  challenge.token = text(json, "token");
  challenge.status = text(json, "status");
  if (json.is_object() && json.contains("error")) challenge.error = problemText(json["error"]);
  return challenge;
}

Authorization authorizationOf(const HttpResponse& response, const std::string& url) {
  Json json = parseObject(response.body);
  Authorization authorization;
  authorization.url = url;
  authorization.identifier = text(json.value("identifier", Json::object()), "value");
  authorization.status = text(json, "status");
  authorization.wildcard = json.value("wildcard", Json(false)).is_boolean() &&
                           json.value("wildcard", Json(false)).get<bool>();
  auto challenges = json.find("challenges");
  if (challenges != json.end() && challenges->is_array())
    for (const Json& one : *challenges) authorization.challenges.push_back(challengeOf(one));
  authorization.retryAfter = retryAfterOf(response);
  return authorization;
}

}  // namespace

Client::Client(ClientOptions options, AccountKey key)
    : options_(std::move(options)), key_(std::move(key)), http_(options_.caFile) {}

Client::~Client() = default;

Result<HttpResponse> Client::send(const std::string& method, const std::string& url,
                                  const std::string& body, const std::string& accept) {
  Result<HttpResponse> response = http_.send(method, url, body, accept);
  lastRetryAfter_ = std::chrono::seconds(0);
  if (!response) return response;
  if (!response->replayNonce.empty()) nonce_ = response->replayNonce;
  lastRetryAfter_ = retryAfterOf(*response);
  return response;
}

Result<HttpResponse> Client::get(const std::string& url) {
  Result<HttpResponse> response = send("GET", url, "", "application/json");
  if (response && response->status >= 400) return httpError("GET", url, *response);
  return response;
}

Result<std::string> Client::nonce() {
  if (nonce_.empty()) {
    if (!directory_) return Error{"", 0, "ACME: no directory (connect() first)"};
    Result<HttpResponse> fresh = send("HEAD", directory_->newNonce, "", "*/*");
    if (!fresh) return fresh.error();
    if (fresh->replayNonce.empty())
      return Error{"", 0, "HEAD " + directory_->newNonce + ": no Replay-Nonce in the answer"};
  }
  return std::exchange(nonce_, std::string());  // each nonce is good for one request
}

// A JWS POST; a badNonce rejection is retried with the nonce that came with it.
Result<HttpResponse> Client::post(const std::string& url, const std::optional<std::string>& payload,
                                  const std::string& accept) {
  for (int attempt = 0;; ++attempt) {
    Result<std::string> fresh = nonce();
    if (!fresh) return fresh.error();
    Result<std::string> body = jwsBody(key_, url, *fresh, kid_, payload);
    if (!body) return body.error();
    Result<HttpResponse> response = send("POST", url, *body, accept);
    if (!response || response->status < 400) return response;
    bool badNonce = text(parseObject(response->body), "type") == kBadNonce;
    if (!badNonce || attempt == kBadNonceRetries) return httpError("POST", url, *response);
  }
}

Status Client::connect() {
  Result<HttpResponse> response = get(options_.directoryUrl);
  if (!response) return Error{"", 0, "ACME directory: " + response.error().message};
  Json json = Json::parse(response->body, nullptr, false);
  Directory directory;
  directory.newNonce = text(json, "newNonce");
  directory.newAccount = text(json, "newAccount");
  directory.newOrder = text(json, "newOrder");
  directory.renewalInfo = text(json, "renewalInfo");
  if (directory.newNonce.empty() || directory.newAccount.empty() || directory.newOrder.empty())
    return Error{"", 0,
                 "ACME directory " + options_.directoryUrl +
                     ": not an ACME directory (newNonce, newAccount or newOrder missing)"};
  directory_ = std::move(directory);
  return Ok{};
}

bool Client::offersRenewalInfo() const {
  return directory_ && !directory_->renewalInfo.empty();
}

Result<std::string> Client::account() {
  if (!directory_) {
    Status connected = connect();
    if (!connected) return connected.error();
  }
  Json payload = {{"termsOfServiceAgreed", true}};
  if (!options_.contact.empty()) payload["contact"] = options_.contact;
  kid_.clear();  // newAccount is signed with the jwk, not a kid (RFC 8555 section 7.3)
  Result<HttpResponse> response = post(directory_->newAccount, payload.dump());
  if (!response) return response.error();
  if (response->location.empty())
    return Error{"", 0, "POST " + directory_->newAccount + ": no account URL (Location)"};
  kid_ = response->location;
  return kid_;
}

Status Client::ready() {
  if (!kid_.empty()) return Ok{};
  Result<std::string> kid = account();
  if (!kid) return kid.error();
  return Ok{};
}

Result<Order> Client::newOrder(const std::vector<std::string>& names,
                               const std::string& replacesCertId) {
  Status status = ready();
  if (!status) return status.error();
  Json identifiers = Json::array();
  for (const std::string& name : names) identifiers.push_back({{"type", "dns"}, {"value", name}});
  Json payload = {{"identifiers", identifiers}};
  if (!replacesCertId.empty()) payload["replaces"] = replacesCertId;
  Result<HttpResponse> response = post(directory_->newOrder, payload.dump());
  if (!response) return response.error();
  if (response->location.empty())
    return Error{"", 0, "POST " + directory_->newOrder + ": no order URL (Location)"};
  return orderOf(*response, response->location);
}

Result<Authorization> Client::authorization(const std::string& url) {
  Status status = ready();
  if (!status) return status.error();
  Result<HttpResponse> response = post(url, std::nullopt);
  if (!response) return response.error();
  return authorizationOf(*response, url);
}

Status Client::acceptChallenge(const Challenge& challenge) {
  Status status = ready();
  if (!status) return status.error();
  Result<HttpResponse> response = post(challenge.url, std::string("{}"));
  if (!response) return response.error();
  return Ok{};
}

Result<Order> Client::order(const std::string& url) {
  Status status = ready();
  if (!status) return status.error();
  Result<HttpResponse> response = post(url, std::nullopt);
  if (!response) return response.error();
  return orderOf(*response, url);
}

Result<Order> Client::finalize(const Order& order, const std::string& csrDer) {
  Status status = ready();
  if (!status) return status.error();
  Json payload = {{"csr", base64url(csrDer)}};
  Result<HttpResponse> response = post(order.finalizeUrl, payload.dump());
  if (!response) return response.error();
  return orderOf(*response, order.url);
}

Result<std::string> Client::certificate(const std::string& url) {
  Status status = ready();
  if (!status) return status.error();
  Result<HttpResponse> response = post(url, std::nullopt, "application/pem-certificate-chain");
  if (!response) return response.error();
  if (response->body.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
    return Error{"", 0, "POST " + url + ": the answer is not a PEM certificate chain"};
  return std::move(response->body);
}

Result<RenewalWindow> Client::renewalInfo(const std::string& ariCertId) {
  if (!offersRenewalInfo()) return Error{"", 0, "the ACME server offers no renewalInfo (ARI)"};
  std::string base = directory_->renewalInfo;
  std::string url = base + (base.ends_with('/') ? "" : "/") + ariCertId;
  Result<HttpResponse> response = get(url);
  if (!response) return response.error();
  Json window = parseObject(response->body).value("suggestedWindow", Json::object());
  std::optional<std::time_t> start = parseRfc3339(text(window, "start"));
  std::optional<std::time_t> end = parseRfc3339(text(window, "end"));
  if (!start || !end || *end < *start)
    return Error{"", 0, "GET " + url + ": no valid suggestedWindow in the answer"};
  return RenewalWindow{*start, *end, retryAfterOf(*response)};
}

}  // namespace tlsgate::acme
