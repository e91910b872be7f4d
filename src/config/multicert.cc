#include "config/multicert.h"

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <filesystem>
#include <set>
#include <utility>

#include "core/read_file.h"
#include "core/text.h"

namespace tlsgate::config {

namespace {

constexpr std::string_view kKnownKeys =
    "ssl_cert_name, ssl_key_name, ssl_ca_name, ssl_ocsp_name, dest_ip, action, "
    "ssl_ticket_enabled, ssl_ticket_number";

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

struct Token {
  std::string key;
  std::string value;
};

// Parses one line of ssl_multicert.config into an entry. Holds the position for messages.
class LineParser {
 public:
  LineParser(const std::string& path, const std::filesystem::path& dir, int line)
      : path_(path), dir_(dir), line_(line) {}

  // Empty vector: a blank or comment-only line.
  Result<std::vector<Token>> tokenize(std::string_view text) const;
  Result<MulticertEntry> build(const std::vector<Token>& tokens) const;

 private:
  Error fail(std::string message) const { return Error{path_, line_, std::move(message)}; }
  Status apply(const Token& token, MulticertEntry& entry) const;
  Result<std::vector<std::string>> fileList(const Token& token) const;
  std::string resolve(std::string_view name) const;

  const std::string& path_;
  const std::filesystem::path& dir_;
  int line_;
};

// S15: whitespace-separated key=value tokens; double quotes group (and are removed), so a
// quoted value may hold spaces and '#'; '#' outside quotes starts a comment.
Result<std::vector<Token>> LineParser::tokenize(std::string_view text) const {
  std::vector<Token> tokens;
  size_t i = 0;
  const size_t n = text.size();
  for (;;) {
    while (i < n && isSpace(text[i])) ++i;
    if (i == n || text[i] == '#') break;
    const size_t start = i;
    Token token;
    std::string* out = &token.key;
    bool sawEquals = false;
    bool inQuote = false;
    for (; i < n; ++i) {
      const char c = text[i];
      if (inQuote) {
        if (c == '"')
          inQuote = false;
        else
          out->push_back(c);
      } else if (isSpace(c) || c == '#') {
        break;
      } else if (c == '"') {
        inQuote = true;
      } else if (c == '=' && !sawEquals) {
        sawEquals = true;
        out = &token.value;
      } else {
        out->push_back(c);
      }
    }
    const auto raw = text.substr(start, i - start);
    if (inQuote) return fail("unterminated quote in " + inQuotes(trim(raw)));
    if (!sawEquals) return fail("expected key=value, got " + inQuotes(raw));
    if (token.key.empty()) return fail("empty key in " + inQuotes(raw));
    tokens.push_back(std::move(token));
  }
  return tokens;
}

Result<MulticertEntry> LineParser::build(const std::vector<Token>& tokens) const {
  MulticertEntry entry;
  entry.line = line_;
  std::set<std::string> seen;
  for (const auto& token : tokens) {
    if (!seen.insert(token.key).second) return fail("duplicate key " + inQuotes(token.key));
    if (auto st = apply(token, entry); !st) return st.error();
  }
  // S15: ssl_cert_name is the one required key.
  if (!seen.contains("ssl_cert_name")) return fail("missing ssl_cert_name");
  if (seen.contains("ssl_key_name") && entry.keyFiles.size() != entry.certFiles.size()) {
    return fail("ssl_key_name names " + std::to_string(entry.keyFiles.size()) +
                " file(s) but ssl_cert_name names " + std::to_string(entry.certFiles.size()) +
                ": give one key per certificate");
  }
  return entry;
}

// S15: the keys of an entry and their values.
Status LineParser::apply(const Token& token, MulticertEntry& entry) const {
  const std::string& key = token.key;
  const std::string& value = token.value;
  if (key == "ssl_cert_name" || key == "ssl_key_name" || key == "ssl_ca_name") {
    auto files = fileList(token);
    if (!files) return files.error();
    auto& target = key == "ssl_cert_name"  ? entry.certFiles
                   : key == "ssl_key_name" ? entry.keyFiles
                                           : entry.caFiles;
    target = std::move(files.value());
  } else if (key == "ssl_ocsp_name") {
    if (trim(value).empty()) return fail("ssl_ocsp_name is empty");
    entry.ocspFile = resolve(trim(value));
  } else if (key == "dest_ip") {
    DestIp dest;
    if (value == "*") {
      dest.any = true;  // S15: the default entry
    } else if (auto address = net::parseAddress(value, false, &dest.hasPort)) {
      dest.address = *address;
    } else {
      return fail("bad dest_ip " + inQuotes(value) + ": expected an address, address:port or *");
    }
    entry.destIp = dest;
  } else if (key == "action") {
    if (value != "tunnel")
      return fail("bad action " + inQuotes(value) + ": only 'tunnel' is supported");
    entry.tunnel = true;
  } else if (key == "ssl_ticket_enabled") {
    if (value != "0" && value != "1")
      return fail("bad ssl_ticket_enabled " + inQuotes(value) + ": expected 0 or 1");
    entry.ticketEnabled = value == "1";
  } else if (key == "ssl_ticket_number") {
    int number = -1;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (ec != std::errc() || end != value.data() + value.size() || number < 0)
      return fail("bad ssl_ticket_number " + inQuotes(value) + ": expected a non-negative integer");
    entry.ticketNumber = number;
  } else if (key == "ssl_key_dialog") {
    return fail("ssl_key_dialog is not supported (keys must be unencrypted)");
  } else {
    return fail("unknown key " + inQuotes(key) + " (known keys: " + std::string(kKnownKeys) + ")");
  }
  return Ok{};
}

// S15: comma-separated file lists; every element names a file.
Result<std::vector<std::string>> LineParser::fileList(const Token& token) const {
  std::vector<std::string> files;
  std::string_view rest = token.value;
  for (;;) {
    const auto comma = rest.find(',');
    const auto element = trim(rest.substr(0, comma));
    if (element.empty())
      return fail("empty file name in " + token.key + " " + inQuotes(token.value));
    if (element.size() >= PATH_MAX)
      return fail("file name of " + std::to_string(element.size()) + " bytes in " + token.key +
                  " (the limit is " + std::to_string(PATH_MAX - 1) + ")");
    files.push_back(resolve(element));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return files;
}

// S15: relative names are relative to the folder of the config file.
std::string LineParser::resolve(std::string_view name) const {
  std::filesystem::path file(name);
  if (file.is_absolute()) return file.string();
  return (dir_ / file).string();
}

}  // namespace

Result<std::vector<MulticertEntry>> parseMulticert(std::string_view text, const std::string& path) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 BOM from some editors
  const auto dir = std::filesystem::path(path).parent_path();
  std::vector<MulticertEntry> entries;
  int lineNumber = 0;
  while (!text.empty()) {
    ++lineNumber;
    const auto newline = text.find('\n');
    auto line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);

    LineParser parser(path, dir, lineNumber);
    auto tokens = parser.tokenize(line);
    if (!tokens) return tokens.error();
    if (tokens->empty()) continue;
    auto entry = parser.build(*tokens);
    if (!entry) return entry.error();
    entries.push_back(std::move(entry.value()));
  }
  return entries;
}

Result<std::vector<MulticertEntry>> loadMulticert(const std::string& path) {
  auto text = readFile(path, file_limit::kConfig);
  if (!text) return text.error();
  return parseMulticert(*text, path);
}

}  // namespace tlsgate::config
