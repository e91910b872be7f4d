#include "net/address.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <charconv>
#include <cstring>

#include "core/text.h"

namespace tlsgate::net {

Address Address::fromSockaddr(const sockaddr* sa, socklen_t len) {
  Address a;
  if (len > sizeof(a.storage_)) len = sizeof(a.storage_);
  std::memcpy(&a.storage_, sa, len);
  return a;
}

uint16_t Address::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

void Address::setPort(uint16_t port) {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
}

socklen_t Address::length() const {
  if (family() == AF_INET) return sizeof(sockaddr_in);
  if (family() == AF_INET6) return sizeof(sockaddr_in6);
  return 0;
}

std::string_view Address::ipBytes() const {
  if (family() == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&storage_);
    return {reinterpret_cast<const char*>(&in->sin_addr), 4};
  }
  if (family() == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
    return {reinterpret_cast<const char*>(&in6->sin6_addr), 16};
  }
  return {};
}

std::string Address::ipString() const {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (family() == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
  else if (family() == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
              sizeof buf);
  return buf;
}

std::string Address::toString() const {
  if (family() == AF_INET6) return concat({"[", ipString(), "]:", std::to_string(port())});
  return ipString() + ":" + std::to_string(port());
}

bool Address::operator==(const Address& other) const {
  return family() == other.family() && port() == other.port() && ipBytes() == other.ipBytes();
}

namespace {

std::optional<uint16_t> parsePort(std::string_view s) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty() || v > 65535) return {};
  return static_cast<uint16_t>(v);
}

// Splits "host:port", "[v6]:port", "v6", "[v6]", "host" into host and optional port text.
void splitHostPort(std::string_view text, std::string_view& host,
                   std::optional<std::string_view>& port) {
  port.reset();
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      host = text;
      return;
    }
    host = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() == ':')
      port = rest.substr(1);
    else if (!rest.empty())
      host = text;  // garbage after ']': make the parse fail
    return;
  }
  auto colon = text.rfind(':');
  if (colon != std::string_view::npos && text.find(':') == colon) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  } else {
    host = text;  // no colon, or a bare IPv6 literal
  }
}

}  // namespace

std::optional<Address> parseAddress(std::string_view text, bool requirePort, bool* hasPort) {
  std::string_view host;
  std::optional<std::string_view> portText;
  splitHostPort(text, host, portText);
  if (requirePort && !portText) return {};
  std::optional<uint16_t> port;
  if (portText && !(port = parsePort(*portText))) return {};

  Address a;
  std::string h(host);
  auto* in = reinterpret_cast<sockaddr_in*>(a.sockaddrPtr());
  auto* in6 = reinterpret_cast<sockaddr_in6*>(a.sockaddrPtr());
  if (inet_pton(AF_INET, h.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
  } else if (inet_pton(AF_INET6, h.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
  } else {
    return {};
  }
  if (port) a.setPort(*port);
  if (hasPort) *hasPort = port.has_value();
  return a;
}

Status checkHostPort(std::string_view text) {
  if (parseAddress(text, true)) return Ok{};
  std::string_view host;
  std::optional<std::string_view> portText;
  splitHostPort(text, host, portText);
  if (!portText || !parsePort(*portText) || host.empty())
    return Error{"", 0, concat({"'", text, "' is not host:port"})};
  return Ok{};
}

Result<Address> resolveHostPort(std::string_view text) {
  if (auto literal = parseAddress(text, true)) return *literal;
  if (auto st = checkHostPort(text); !st) return st.error();
  std::string_view host;
  std::optional<std::string_view> portText;
  splitHostPort(text, host, portText);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string h(host), p(*portText);
  int rc = getaddrinfo(h.c_str(), p.c_str(), &hints, &res);
  if (rc != 0 || !res) return Error{"", 0, "cannot resolve '" + h + "': " + gai_strerror(rc)};
  Address a = Address::fromSockaddr(res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return a;
}

}  // namespace tlsgate::net
