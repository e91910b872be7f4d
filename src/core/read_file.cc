#include "core/read_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/fd.h"

namespace tlsgate {

Result<std::string> readFile(const std::string& path) {
  // POSIX I/O rather than iostreams: errno is reliable, and a directory fails with EISDIR.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Error{path, 0, std::string("cannot read: ") + std::strerror(errno)};
  std::string text;
  char buf[16384];
  for (;;) {
    const ssize_t got = ::read(fd.get(), buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return Error{path, 0, std::string("cannot read: ") + std::strerror(errno)};
    if (got == 0) return text;
    text.append(buf, static_cast<size_t>(got));
  }
}

}  // namespace tlsgate
