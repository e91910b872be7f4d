#include "acme/state_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/read_file.h"

namespace tlsgate::acme {

namespace {

namespace fs = std::filesystem;

std::string certDir(const std::string& stateDir) {
  return (fs::path(stateDir) / "certificates").string();
}

Status makeDirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error{dir.string(), 0, "cannot create the folder: " + ec.message()};
  ::chmod(dir.c_str(), 0700);
  return Ok{};
}

// Whole or not at all: a temporary file in the same folder, fsync'd, renamed over `file`.
Status writeAtomically(const std::string& file, const std::string& bytes, mode_t mode) {
  const fs::path path(file);
  if (auto st = makeDirs(path.parent_path()); !st) return st;
  const std::string tmp = file + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Error{tmp, 0, std::string("cannot create: ") + std::strerror(errno)};
  ::fchmod(fd, mode);  // whatever the umask
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return Error{tmp, 0, std::string("cannot write: ") + std::strerror(errno)};
    }
    done += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), file.c_str()) != 0)
    return Error{file, 0, std::string("cannot rename into place: ") + std::strerror(errno)};
  return Ok{};
}

Result<std::optional<std::string>> readIfThere(const std::string& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::optional<std::string>();
  auto text = readFile(file, file_limit::kCertificate);
  if (!text) return text.error();
  return std::optional<std::string>(std::move(*text));
}

}  // namespace

Result<std::optional<StoredCertificate>> readStoredCertificate(const std::string& stateDir,
                                                               const std::string& id) {
  const fs::path dir(certDir(stateDir));
  auto chain = readIfThere((dir / (id + ".pem")).string());
  if (!chain) return chain.error();
  auto key = readIfThere((dir / (id + ".key")).string());
  if (!key) return key.error();
  if (!*chain || !*key) return std::optional<StoredCertificate>();
  return std::optional<StoredCertificate>(StoredCertificate{std::move(**chain), std::move(**key)});
}

Status writeStoredCertificate(const std::string& stateDir, const std::string& id,
                              const StoredCertificate& cert) {
  const fs::path dir(certDir(stateDir));
  // The key first: a chain is never on disk without its key.
  if (auto st = writeAtomically((dir / (id + ".key")).string(), cert.keyPem, 0600); !st) return st;
  return writeAtomically((dir / (id + ".pem")).string(), cert.chainPem, 0644);
}

Result<std::optional<std::string>> readKeyFile(const std::string& file) {
  return readIfThere(file);
}

Status writeKeyFile(const std::string& file, const std::string& pem) {
  return writeAtomically(file, pem, 0600);
}

}  // namespace tlsgate::acme
