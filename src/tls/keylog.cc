#include "tls/keylog.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/log.h"

namespace tlsgate::tls {

namespace {

int keyLogIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// STYLE rule 7: the trampoline finds the KeyLog of the context the session runs on now
// (after the certificate callback switched it, the selected entry's: every server context
// of a snapshot has it).
void keyLogLine(const SSL* ssl, const char* line) {
  if (auto* log =
          static_cast<const KeyLog*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), keyLogIndex())))
    log->write(line);
}

}  // namespace

Status KeyLog::check() const {
  auto fail = [this](int err) {
    return Error{"", 0, "cannot open '" + path_ + "': " + std::strerror(err)};
  };
  if (::access(path_.c_str(), F_OK) == 0)
    return ::access(path_.c_str(), W_OK) == 0 ? Status(Ok{}) : fail(errno);
  if (errno != ENOENT) return fail(errno);
  const size_t slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path_.substr(0, slash);
  if (::access(dir.c_str(), W_OK | X_OK) != 0) return fail(errno);
  return Ok{};
}

Status KeyLog::open() {
  const std::string& path = path_;
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600));
  if (!fd.valid()) return Error{"", 0, "cannot open '" + path + "': " + std::strerror(errno)};
  // An older file may have been readable by others: the secrets are not for them.
  struct stat st = {};
  if (::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) &&
      ::fchmod(fd.get(), 0600) != 0)
    log::warning("ssl.keylog_file '%s' is readable by others and chmod 0600 failed: %s",
                 path.c_str(), std::strerror(errno));
  log::warning(
      "ssl.keylog_file: writing the TLS secrets of every session to '%s'; anyone who reads it "
      "can decrypt captured traffic (a debugging aid: no forward secrecy while it is on)",
      path.c_str());
  fd_ = std::move(fd);
  return Ok{};
}

void KeyLog::attach(SSL_CTX* ctx) const {
  SSL_CTX_set_ex_data(ctx, keyLogIndex(), const_cast<KeyLog*>(this));
  SSL_CTX_set_keylog_callback(ctx, keyLogLine);
}

void KeyLog::write(std::string_view line) const {
  // A secret line is under 250 bytes; one buffer, one write(2): O_APPEND keeps it whole.
  char buf[512];
  if (line.size() + 1 > sizeof buf || !fd_.valid()) return;
  std::memcpy(buf, line.data(), line.size());
  buf[line.size()] = '\n';
  if (::write(fd_.get(), buf, line.size() + 1) < 0)
    TG_DEBUG(log::kSslError, "ssl.keylog_file '%s': %s", path_.c_str(), std::strerror(errno));
}

}  // namespace tlsgate::tls
