// The files of the on-demand certificate directory (ssl.cert_directory, README "Certificates
// on demand from a directory"): which names may be looked up, which files serve a name, and
// loading them. Only the directory's loader thread calls findFiles and loadName: they touch
// the file system (tls/cert_directory.h).
//
// Layout, for the SNI name `name` (lowercase):
//   <dir>/<name>.pem                 the certificate, its chain after it, and the key...
//   <dir>/<name>.key                 ...or the key here
//   <dir>/*.<parent>.pem (and .key)  a wildcard, for a one-label name under <parent> that has
//                                    no file of its own ('*' is in the file name)
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tls/cert_store.h"
#include "tls/server_params.h"

namespace tlsgate::tls {

// isDirectoryName: a name that may be looked up in the directory, a DNS host name: 1 to
// 253 characters, labels of 1 to 63 letters, digits and hyphens, separated by single dots
// (so no '/', no "..", no leading or trailing dot), lowercase. Any other name is unknown
// without a look at the file system.
bool isDirectoryName(std::string_view name);

// entryCovers: whether a certificate of `entry` is valid for `name`: its CN or a DNS SAN is
// `name`, or is "*.<parent>" with `name` one label under <parent>.
bool entryCovers(const CertEntry& entry, std::string_view name);

// directoryProblem: "" when `path` is a directory this process may list and read files in,
// else why not ("'<path>': No such file or directory", "... is not a directory").
std::string directoryProblem(const std::string& path);

// What a file was when it was read: a changed file (replaced, rewritten, touched) differs.
struct DirectoryStamp {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  int64_t mtimeNs = 0;
  bool operator==(const DirectoryStamp&) const = default;
};

// The files that serve a name, as they were found.
struct DirectoryFiles {
  std::string certFile;
  std::string keyFile;  // "" = the key is in certFile
  DirectoryStamp cert;
  DirectoryStamp key;
  bool operator==(const DirectoryFiles&) const = default;
};

// findFiles: the files that serve `name` (a directory name) in `dir` now: its own, else the
// wildcard's; nullopt when there are none. `problem` is set when a file is there but cannot
// be looked at (no permission...).
std::optional<DirectoryFiles> findFiles(const std::string& dir, const std::string& name,
                                        std::string& problem);

// One name looked up and loaded.
struct DirectoryLoad {
  enum class Kind : uint8_t {
    kLoaded,  // entry and files are set
    kNoFile,  // no file for the name
    kFailed,  // a file is there but does not serve: `problem` says why
  };
  Kind kind = Kind::kNoFile;
  std::shared_ptr<const CertEntry> entry;
  DirectoryFiles files;
  std::string problem;
};

// loadName finds the files of `name` and loads them with `params` (a certificate that does
// not cover the name is kFailed).
DirectoryLoad loadName(const std::string& dir, const std::string& name, const ServerParams& params);

}  // namespace tlsgate::tls
