// ssl.cert_directory: certificates loaded on demand from a folder (tls/cert_directory.h,
// README "Certificates on demand from a directory").
//
//   ssl:
//     cert_directory:
//       path: /srv/certs      # required: <name>.pem (+ <name>.key), *.<parent>.pem
//       cache_size: 100000    # parsed certificates kept (LRU), at least 1
//       negative_ttl: 60      # seconds a name without a file is remembered as unknown
//       timeout: 5            # seconds a handshake waits for its load, at least 1
//
// Whether the folder exists and can be read is checked when the snapshot is built.
#pragma once

#include <filesystem>
#include <string>

#include "core/result.h"

namespace tlsgate::config {

namespace yaml {
struct Field;
}

struct CertDirectoryConfig {
  int line = 0;      // of the mapping
  int pathLine = 0;  // of `path`, for errors about the folder
  std::string path;  // resolved against the folder of tlsgate.yaml
  unsigned cacheSize = 100000;
  unsigned negativeTtlSec = 60;
  unsigned timeoutSec = 5;
};

// parseCertDirectory reads the mapping of `f`; errors name `path` and the line. `dir`: the
// folder of tlsgate.yaml, against which a relative path is resolved.
Result<CertDirectoryConfig> parseCertDirectory(const yaml::Field& f, const std::string& path,
                                               const std::filesystem::path& dir);

}  // namespace tlsgate::config
