// readFile: a whole regular file as a string, bounded in size, or `path: <why not>`.
//
// Every file tlsgate reads goes through here (configuration, certificates, keys, OCSP
// responses, ticket keys, passwords): a FIFO, a device (/dev/zero) or a file bigger than
// its kind ever is must fail at once with a clear message, never hang a reload or take the
// process's memory.
#pragma once

#include <cstddef>
#include <string>

#include "core/result.h"

namespace tlsgate {

// The largest file of each kind (docs/decisions.md, "File size limits").
namespace file_limit {
inline constexpr std::size_t kConfig = std::size_t{64} << 20;       // tlsgate.yaml, sni.yaml,
                                                                    // ssl_multicert.config
inline constexpr std::size_t kCertificate = std::size_t{1} << 20;   // a certificate, chain, key
inline constexpr std::size_t kCaBundle = std::size_t{16} << 20;     // a file of trusted CAs
inline constexpr std::size_t kOcspResponse = std::size_t{1} << 20;  // ssl_ocsp_name
inline constexpr std::size_t kTicketKeys = std::size_t{1} << 20;    // ticket_key.filename
inline constexpr std::size_t kPassword = std::size_t{64} << 10;     // redis password_file
}  // namespace file_limit

// Opens `path` without blocking (O_NONBLOCK: a FIFO with no writer does not hang), refuses
// anything but a regular file ("not a regular file") and a file of more than `maxBytes`
// ("larger than N bytes"), then reads it whole. Never throws: running out of memory is an
// error too.
Result<std::string> readFile(const std::string& path, std::size_t maxBytes);

}  // namespace tlsgate
