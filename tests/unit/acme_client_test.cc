// The ACME client's HTTP behaviour against a scripted server on loopback (plain HTTP, one
// request per connection): the directory's errors name its URL, a badNonce is retried with
// the nonce of the error response, and a 429 with Retry-After says so and exposes the delay.
#include "acme/client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "acme_test_util.h"

namespace tlsgate::acme {
namespace {

// Answers each connection with the next canned response and records each request.
class ScriptedServer {
 public:
  ScriptedServer() {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    bind(listener_, reinterpret_cast<sockaddr*>(&address), size);
    listen(listener_, 8);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
  }
  // Answers the next connections with `responses`, one each (set once the URLs are known).
  void run(std::vector<std::string> responses) {
    responses_ = std::move(responses);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedServer() {
    shutdown(listener_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    close(listener_);
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  void join() { thread_.join(); }
  std::vector<std::string> requests;  // read after join()

 private:
  void serve() {
    for (const std::string& response : responses_) {
      int fd = accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      requests.push_back(readRequest(fd));
      (void)!write(fd, response.data(), response.size());
      close(fd);
    }
  }
  static std::string readRequest(int fd) {
    std::string in;
    char buf[4096];
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) {
      in.append(buf, n);
      size_t end = in.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      size_t length = in.find("Content-Length: ");
      size_t body = length == std::string::npos ? 0 : std::stoul(in.substr(length + 16));
      if (in.size() >= end + 4 + body) break;
    }
    return in;
  }
  std::vector<std::string> responses_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

std::string reply(const std::string& status, const std::string& headers,
                  const std::string& body = "") {
  return "HTTP/1.1 " + status +
         "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         headers + "\r\n" + body;
}

std::string directory(const ScriptedServer& server) {
  nlohmann::json json = {{"newNonce", server.url("/nonce")},
                         {"newAccount", server.url("/acct")},
                         {"newOrder", server.url("/order")}};
  return reply("200 OK", "Content-Type: application/json\r\n", json.dump());
}

std::string nonceOf(const std::string& request) {
  nlohmann::json jws = nlohmann::json::parse(request.substr(request.find("\r\n\r\n") + 4));
  return nlohmann::json::parse(testing::base64urlDecode(jws["protected"].get<std::string>()))
      .value("nonce", "");
}

Client newClient(const std::string& directoryUrl) {
  Result<AccountKey> key = AccountKey::generate();
  EXPECT_TRUE(key);
  return Client(ClientOptions{directoryUrl, "", {"mailto:ops@example.com"}}, *key);
}

TEST(AcmeClient, DirectoryErrorNamesTheUrlAndTheProblem) {
  ScriptedServer server;
  server.run({reply("404 Not Found", "Content-Type: application/problem+json\r\n",
                    R"({"type":"about:blank","detail":"no such thing"})")});
  Client client = newClient(server.url("/dir"));
  Status connected = client.connect();
  server.join();
  ASSERT_FALSE(connected);
  EXPECT_NE(connected.error().message.find(server.url("/dir")), std::string::npos);
  EXPECT_NE(connected.error().message.find("HTTP 404"), std::string::npos);
  EXPECT_NE(connected.error().message.find("no such thing"), std::string::npos);
}

TEST(AcmeClient, BadNonceIsRetriedWithTheNonceOfTheErrorAndRateLimitsExposeRetryAfter) {
  const std::string problem = "Content-Type: application/problem+json\r\n";
  ScriptedServer server;
  server.run(
      {directory(server), reply("200 OK", "Replay-Nonce: nonce-1\r\n"),
       reply("400 Bad Request", problem + "Replay-Nonce: nonce-2\r\n",
             R"({"type":"urn:ietf:params:acme:error:badNonce","detail":"stale"})"),
       reply("201 Created", "Replay-Nonce: nonce-3\r\nLocation: https://ca/acct/1\r\n", "{}"),
       reply("429 Too Many Requests", problem + "Retry-After: 120\r\n",
             R"({"type":"urn:ietf:params:acme:error:rateLimited","detail":"slow down"})")});
  Client client = newClient(server.url("/dir"));
  Result<std::string> kid = client.account();
  ASSERT_TRUE(kid) << kid.error().message;
  EXPECT_EQ(*kid, "https://ca/acct/1");
  Result<Order> order = client.newOrder({"a.example"});
  ASSERT_FALSE(order);
  const std::string& message = order.error().message;
  EXPECT_NE(message.find(server.url("/order")), std::string::npos) << message;
  EXPECT_NE(message.find("rateLimited: slow down"), std::string::npos) << message;
  EXPECT_NE(message.find("rate limited, retry after 120 s"), std::string::npos) << message;
  EXPECT_EQ(client.lastRetryAfter(), std::chrono::seconds(120));
  server.join();  // every response sent: the requests are all recorded
  ASSERT_EQ(server.requests.size(), 5u);
  EXPECT_EQ(server.requests[1].substr(0, 11), "HEAD /nonce");
  EXPECT_EQ(nonceOf(server.requests[2]), "nonce-1");
  EXPECT_EQ(nonceOf(server.requests[3]), "nonce-2");  // the badNonce answer's nonce
  EXPECT_EQ(nonceOf(server.requests[4]), "nonce-3");
  EXPECT_NE(server.requests[4].find("Content-Type: application/jose+json"), std::string::npos);
}

}  // namespace
}  // namespace tlsgate::acme
