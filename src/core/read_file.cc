#include "core/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "core/fd.h"

namespace tlsgate {

namespace {

Error cannotRead(const std::string& path) {
  return Error{path, 0, std::string("cannot read: ") + std::strerror(errno)};
}

Error tooLarge(const std::string& path, std::size_t maxBytes) {
  return Error{path, 0, "larger than " + std::to_string(maxBytes) + " bytes"};
}

// Reads to the end, but never more than maxBytes + 1 bytes: a file that grows while it is
// read is still refused.
Result<std::string> readAll(int fd, const std::string& path, std::size_t sizeHint,
                            std::size_t maxBytes) {
  std::string text;
  text.reserve(sizeHint);
  char buf[16384];
  for (;;) {
    const std::size_t room = maxBytes + 1 - text.size();
    const ssize_t got = ::read(fd, buf, room < sizeof buf ? room : sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return cannotRead(path);
    if (got == 0) return text;
    text.append(buf, static_cast<std::size_t>(got));
    if (text.size() > maxBytes) return tooLarge(path, maxBytes);
  }
}

}  // namespace

Result<std::string> readFile(const std::string& path, std::size_t maxBytes) {
  // POSIX I/O rather than iostreams: errno is reliable, and fstat says what the path is.
  Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return cannotRead(path);
  struct stat st = {};
  if (::fstat(fd.get(), &st) != 0) return cannotRead(path);
  if (S_ISDIR(st.st_mode)) {
    errno = EISDIR;  // the message read() gave before fstat was asked
    return cannotRead(path);
  }
  if (!S_ISREG(st.st_mode)) return Error{path, 0, "not a regular file"};
  if (st.st_size < 0 || static_cast<std::size_t>(st.st_size) > maxBytes)
    return tooLarge(path, maxBytes);
  try {
    return readAll(fd.get(), path, static_cast<std::size_t>(st.st_size), maxBytes);
  } catch (const std::bad_alloc&) {
    return Error{path, 0, "out of memory reading " + std::to_string(st.st_size) + " bytes"};
  }
}

}  // namespace tlsgate
