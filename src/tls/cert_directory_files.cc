#include "tls/cert_directory_files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tls/parsed_cert_cache.h"

namespace tlsgate::tls {

namespace {

constexpr size_t kMaxName = 253;
constexpr size_t kMaxLabel = 63;

bool isLabelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

// "a.example.com" -> "example.com"; "" for a name of one label.
std::string_view parentOf(std::string_view name) {
  const size_t dot = name.find('.');
  return dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
}

enum class Presence : uint8_t { kAbsent, kPresent, kUnreadable };

// A missing file, or a name too long for one, is absent; any other failure to look at it
// is a problem the operator must hear about (a directory without search permission...).
Presence statDirectoryFile(const std::string& path, DirectoryStamp& stamp, std::string& problem) {
  struct stat st = {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENAMETOOLONG || errno == ENOTDIR) return Presence::kAbsent;
    problem = "'" + path + "': " + std::strerror(errno);
    return Presence::kUnreadable;
  }
  stamp = {st.st_dev, st.st_ino, st.st_size,
           static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
  return Presence::kPresent;
}

// The files of the stem ("a.example.com" or "*.example.com"): <stem>.pem and, if there is
// one, <stem>.key.
std::optional<DirectoryFiles> stemFiles(const std::string& dir, const std::string& stem,
                                        Presence& presence, std::string& problem) {
  DirectoryFiles files;
  files.certFile = dir + "/" + stem + ".pem";
  presence = statDirectoryFile(files.certFile, files.cert, problem);
  if (presence != Presence::kPresent) return std::nullopt;
  std::string keyFile = dir + "/" + stem + ".key";
  switch (statDirectoryFile(keyFile, files.key, problem)) {
    case Presence::kPresent:
      files.keyFile = std::move(keyFile);
      break;
    case Presence::kAbsent:
      break;
    case Presence::kUnreadable:
      presence = Presence::kUnreadable;
      return std::nullopt;
  }
  return files;
}

}  // namespace

bool isDirectoryName(std::string_view name) {
  if (name.empty() || name.size() > kMaxName) return false;
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;  // a leading dot, or ".."
      label = 0;
      continue;
    }
    if (!isLabelChar(c) || ++label > kMaxLabel) return false;
  }
  return label != 0;  // no trailing dot
}

bool entryCovers(const CertEntry& entry, std::string_view name) {
  const std::string_view parent = parentOf(name);
  for (const auto& cert : entry.certs)
    for (const std::string& n : cert->names) {
      if (n == name) return true;
      const bool wildcard = n.size() > 2 && n[0] == '*' && n[1] == '.';
      if (wildcard && !parent.empty() && std::string_view(n).substr(2) == parent) return true;
    }
  return false;
}

std::string directoryProblem(const std::string& path) {
  struct stat st = {};
  if (::stat(path.c_str(), &st) != 0) return "'" + path + "': " + std::strerror(errno);
  if (!S_ISDIR(st.st_mode)) return "'" + path + "' is not a directory";
  if (::access(path.c_str(), R_OK | X_OK) != 0)
    return "'" + path + "' cannot be read: " + std::strerror(errno);
  return "";
}

std::optional<DirectoryFiles> findFiles(const std::string& dir, const std::string& name,
                                        std::string& problem) {
  Presence presence = Presence::kAbsent;
  if (auto own = stemFiles(dir, name, presence, problem)) return own;
  // A file of its own that cannot be looked at is not quietly replaced by the wildcard.
  if (presence == Presence::kUnreadable) return std::nullopt;
  const std::string_view parent = parentOf(name);
  if (parent.empty()) return std::nullopt;
  return stemFiles(dir, "*." + std::string(parent), presence, problem);
}

DirectoryLoad loadName(const std::string& dir, const std::string& name,
                       const ServerParams& params) {
  DirectoryLoad out;
  auto files = findFiles(dir, name, out.problem);
  if (!files) {
    out.kind = out.problem.empty() ? DirectoryLoad::Kind::kNoFile : DirectoryLoad::Kind::kFailed;
    return out;
  }
  out.files = std::move(*files);
  out.kind = DirectoryLoad::Kind::kFailed;
  auto loaded = loadStandaloneEntry(out.files.certFile, out.files.keyFile, params);
  if (!loaded) {
    out.problem = loaded.error().toString();
    return out;
  }
  if (!entryCovers(**loaded, name)) {
    const std::vector<std::string>& names = (*loaded)->certs.front()->names;
    std::string list;
    for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
    out.problem = "'" + out.files.certFile +
                  "': its certificate is not valid for the name (it is for " +
                  (list.empty() ? std::string("no name") : list) + ")";
    return out;
  }
  // Parsed here too, on the loader's thread: the worker that serves it finds it parsed.
  for (const auto& cert : (*loaded)->certs) ParsedCertCache::instance().get(*cert);
  out.kind = DirectoryLoad::Kind::kLoaded;
  out.entry = std::move(*loaded);
  return out;
}

}  // namespace tlsgate::tls
