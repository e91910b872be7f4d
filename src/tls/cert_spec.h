// CertSpec: one entry of the certificate store as the store needs it (S15): the files of
// its certificates, keys and chain, which connections it serves by address, and its
// ticket and OCSP settings. config/multicert.cc parses ssl_multicert.config lines into it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "net/address.h"

namespace tlsgate::tls {

struct DestIp {
  bool any = false;      // dest_ip=*: the default entry
  net::Address address;  // when !any
  bool hasPort = false;  // "ip:port" (matches before a plain "ip")
};

struct CertSpec {
  int line = 0;                        // in the file it came from
  std::vector<std::string> certFiles;  // absolute, or resolved against the file's folder
  std::vector<std::string> keyFiles;   // empty, or the same count as certFiles
  std::vector<std::string> caFiles;
  std::optional<DestIp> destIp;
  bool tunnel = false;  // action=tunnel (S5, S11: acted on by the route decision)
  std::optional<bool> ticketEnabled;
  std::optional<int> ticketNumber;
  std::string ocspFile;
};

}  // namespace tlsgate::tls
