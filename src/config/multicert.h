// ssl_multicert.config, in Apache Traffic Server's line format (S15).
//
// One entry per line: whitespace-separated `key=value` pairs; a value may be written in
// double quotes (and then contain spaces); `#` starts a comment outside quotes; blank lines
// are skipped. Keys:
//   ssl_cert_name    required; comma-separated list (e.g. an RSA and an ECDSA certificate)
//   ssl_key_name     comma-separated, one per certificate (omitted: the key is in the cert file)
//   ssl_ca_name      comma-separated intermediate/chain files
//   dest_ip          an address, "address:port", "[v6]:port", or "*" (the default entry)
//   action           "tunnel" (S5/S11, acted on by the routing layer)
//   ssl_ticket_enabled  0|1 (session tickets for this certificate's names; default 1)
//   ssl_ticket_number   TLS 1.3 tickets sent after a full handshake (default 2)
//   ssl_ocsp_name    a DER OCSP response file, stapled when fresh (tls/ocsp_stapling.h)
// Relative file names resolve against the folder of the config file. Any other key, a
// missing `=`, a bad value or a line without ssl_cert_name is an error naming file and line.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "net/address.h"
#include "tls/cert_spec.h"

namespace tlsgate::config {

// An entry is what the certificate store builds from (tls/cert_spec.h).
using MulticertEntry = tls::CertSpec;
using tls::DestIp;

// Pure parser: `path` is used for error messages and to resolve relative file names.
Result<std::vector<MulticertEntry>> parseMulticert(std::string_view text, const std::string& path);

// Reads the file and parses it.
Result<std::vector<MulticertEntry>> loadMulticert(const std::string& path);

}  // namespace tlsgate::config
