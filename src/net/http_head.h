// parseHttpHead: the head of one HTTP/1.x request (RFC 9112 sections 2 to 5), for the two
// small HTTP servers in tlsgate (the admin endpoint, the inspect endpoint). A pure function
// of the bytes received so far, so that it can be unit tested and fuzzed on its own.
//
// Lines end in CRLF or in a bare LF (RFC 9112 2.2 lets a recipient accept a bare LF, and
// clients such as `printf ... | nc` send one). Whatever else is outside the grammar is a bad
// request, never guessed at: a control byte (NUL, a CR not before LF...) in a line, a header
// without a colon or with whitespace before it, a folded (obsolete) header line, a request
// line that is not `method SP target SP HTTP/1.0|1.1`.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace tlsgate::net {

struct HttpHeader {
  std::string_view name;   // as sent (compare with equalsIgnoringCase)
  std::string_view value;  // without the whitespace around it
};

struct HttpHead {
  std::string_view method;
  std::string_view target;
  std::string_view version;  // "HTTP/1.0" or "HTTP/1.1"
  std::vector<HttpHeader> headers;
  size_t size = 0;  // bytes of the head, its empty line included: where a body would start
};

enum class HttpHeadStatus { kNeedMore, kDone, kBad, kTooLarge };

struct HttpHeadResult {
  HttpHeadStatus status = HttpHeadStatus::kNeedMore;
  HttpHead head;  // views into the input, when kDone
};

// Parses the head at the start of `in`; a head (empty lines before the request line
// included) longer than `maxHead` bytes is kTooLarge.
HttpHeadResult parseHttpHead(std::string_view in, size_t maxHead);

bool equalsIgnoringCase(std::string_view a, std::string_view b);

// The value of the first header named `name` (any case), or nullptr.
const HttpHeader* findHeader(const HttpHead& head, std::string_view name);

}  // namespace tlsgate::net
