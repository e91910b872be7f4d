// Address: an IPv4 or IPv6 socket address, with or without a port.
//
// Parsing accepts "1.2.3.4", "1.2.3.4:443", "::1", "[::1]", "[::1]:443". Host names are not
// accepted here: resolution is resolveHostPort()'s job, done once at load time.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace tlsgate::net {

class Address {
 public:
  Address() = default;
  static Address fromSockaddr(const sockaddr* sa, socklen_t len);

  int family() const { return storage_.ss_family; }
  uint16_t port() const;
  void setPort(uint16_t port);
  bool isSet() const { return storage_.ss_family != AF_UNSPEC; }

  const sockaddr* sockaddrPtr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* sockaddrPtr() { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t length() const;

  // Raw address bytes (4 or 16), without the port: used as a hash key.
  std::string_view ipBytes() const;

  // "1.2.3.4" / "::1" (no port).
  std::string ipString() const;
  // "1.2.3.4:443" / "[::1]:443".
  std::string toString() const;

  bool operator==(const Address& other) const;

 private:
  sockaddr_storage storage_{};
};

// Parses a literal address. When `requirePort` is set a port must be present; otherwise it
// is optional and `hasPort` (if given) says whether one was written.
std::optional<Address> parseAddress(std::string_view text, bool requirePort,
                                    bool* hasPort = nullptr);

// Checks that `text` is "host:port" (host a name or a literal) without looking it up: how
// configuration parsing validates a destination it must not resolve yet.
Status checkHostPort(std::string_view text);

// Resolves "host:port" (host may be a name or a literal) to its first address.
Result<Address> resolveHostPort(std::string_view text);

}  // namespace tlsgate::net
