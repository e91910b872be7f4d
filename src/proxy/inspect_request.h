// What the inspect endpoint answers to the bytes a client sent (README "Inspect"): a pure
// function of the bytes received so far, unit tested and fuzzed (fuzz/inspect_request_fuzz).
#pragma once

#include <cstddef>
#include <string_view>

namespace tlsgate::proxy {

struct InspectRequest {
  enum class Kind {
    kNeedMore,  // no complete head yet
    kAnswer,    // a request to answer with the session's JSON
    kBad,       // 400: not an HTTP/1.x request head
    kBody,      // 400: a request with a body (inspect takes none)
    kTooLarge,  // 431: no head within kInspectMaxHead bytes
  };
  Kind kind = Kind::kNeedMore;
  bool keepAlive = false;  // kAnswer: the connection stays open after the answer
  size_t consumed = 0;     // kAnswer, kBody: the bytes of the request's head
};

inline constexpr size_t kInspectMaxHead = 16 * 1024;

// The first request in `in`.
InspectRequest parseInspectRequest(std::string_view in);

}  // namespace tlsgate::proxy
