// The ACME client's files: the account key and certificates/<id>.pem (the chain, 0644) and
// certificates/<id>.key (0600) under the state directory. Written to a temporary file and
// renamed, so a crash never leaves half a certificate; folders are created 0700.
#pragma once

#include <optional>
#include <string>

#include "core/result.h"

namespace tlsgate::acme {

struct StoredCertificate {
  std::string chainPem, keyPem;
};

// nullopt: nothing stored for `id` (an unreadable file is an error).
Result<std::optional<StoredCertificate>> readStoredCertificate(const std::string& stateDir,
                                                               const std::string& id);
Status writeStoredCertificate(const std::string& stateDir, const std::string& id,
                              const StoredCertificate& cert);

// The PEM of the key in `file`; nullopt when the file does not exist.
Result<std::optional<std::string>> readKeyFile(const std::string& file);
// Writes `pem` to `file` with mode 0600 (creating its folder 0700).
Status writeKeyFile(const std::string& file, const std::string& pem);

}  // namespace tlsgate::acme
