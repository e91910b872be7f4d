// libFuzzer target for proxy::parseInspectRequest (and net::parseHttpHead under it). ASan and
// UBSan catch reads past the input; the checks catch a parser that breaks its promises:
//   - kAnswer and kBody consume a head that ends in an empty line, within the bound; that
//     head alone gives the same answer, and each shorter prefix of it needs more.
//   - kNeedMore only below the bound; kTooLarge only above it.
//   - One more byte never reverses a decision.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "proxy/inspect_request.h"

using tlsgate::proxy::InspectRequest;
using tlsgate::proxy::kInspectMaxHead;
using tlsgate::proxy::parseInspectRequest;

namespace {

bool same(const InspectRequest& a, const InspectRequest& b) {
  return a.kind == b.kind && a.keepAlive == b.keepAlive && a.consumed == b.consumed;
}

void checkComplete(std::string_view in, const InspectRequest& r) {
  FUZZ_CHECK(r.consumed >= 2 && r.consumed <= in.size() && r.consumed <= kInspectMaxHead);
  std::string_view head = in.substr(0, r.consumed);
  FUZZ_CHECK(head.ends_with("\n\n") || head.ends_with("\n\r\n"));
  FUZZ_CHECK(same(parseInspectRequest(head), r));
  // Every prefix of a short head; of a long one a few, or each input costs n^2.
  const size_t step = head.size() <= 512 ? 1 : head.size() / 7;
  for (size_t n = head.size() - 1; n > 0; n = n > step ? n - step : 0)
    FUZZ_CHECK(parseInspectRequest(head.substr(0, n)).kind == InspectRequest::Kind::kNeedMore);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t len) {
  using Kind = InspectRequest::Kind;
  std::string_view in(reinterpret_cast<const char*>(data), len);
  InspectRequest r = parseInspectRequest(in);
  switch (r.kind) {
    case Kind::kAnswer:
    case Kind::kBody:
      checkComplete(in, r);
      break;
    case Kind::kNeedMore:
      FUZZ_CHECK(len <= kInspectMaxHead && r.consumed == 0);
      break;
    case Kind::kTooLarge:
      FUZZ_CHECK(len > kInspectMaxHead);
      break;
    case Kind::kBad:
      break;
  }
  if (len > 0) {
    InspectRequest shorter = parseInspectRequest(in.substr(0, len - 1));
    if (shorter.kind != Kind::kNeedMore) FUZZ_CHECK(same(shorter, r));
  }
  return 0;
}
