// Fuzz target: what the REST API's HTTP process and ubcd read from each
// other and from clients: HTTP requests (core/http_request.h) and the frames
// between the two processes (core/rest_frame.h).
//
// Input layout: the first byte picks the parser (even: HTTP, odd: a frame
// payload), the rest is its input. Invariants: an HTTP parse never takes more
// than it was given, never keeps a body over the bound, answers every error
// with a 4xx or 5xx, and parses the bytes it took alone to the same request;
// a frame that decodes encodes back to the same bytes. No exception escapes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/http_request.h"
#include "core/rest_frame.h"
#include "fuzz/fuzz_check.h"

using ubc::fuzz::Show;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  const bool frame = (bytes[0] & 1) != 0;
  const std::string_view input(reinterpret_cast<const char*>(bytes) + 1, size - 1);
  ubc::fuzz::RunGuarded([&] {
    if (!frame) {
      ubc::HttpLimits limits;
      limits.max_head_bytes = 512;
      limits.max_body_bytes = 256;
      const ubc::HttpParse p = ubc::ParseHttpRequest(input, limits);
      if (p.kind == ubc::HttpParse::Kind::kError) {
        FUZZ_CHECK(p.error_status >= 400 && p.error_status <= 599, Show(input));
        return;
      }
      if (p.kind != ubc::HttpParse::Kind::kRequest) return;
      FUZZ_CHECK(p.consumed <= input.size(), Show(input));
      FUZZ_CHECK(p.request.body.size() <= limits.max_body_bytes, Show(input));
      if (!p.request.body_too_large) {
        const ubc::HttpParse again = ubc::ParseHttpRequest(input.substr(0, p.consumed), limits);
        FUZZ_CHECK(again.kind == ubc::HttpParse::Kind::kRequest && again.consumed == p.consumed &&
                       again.request.body == p.request.body &&
                       again.request.target == p.request.target,
                   Show(input));
      }
      return;
    }
    if (ubc::Result<ubc::RestRequestFrame> q = ubc::DecodeRestRequestFrame(input); q.ok()) {
      const std::string encoded = ubc::EncodeRestRequestFrame(*q);
      FUZZ_CHECK(std::string_view(encoded).substr(ubc::kRestFrameHeaderBytes) == input,
                 Show(input));
    }
    if (ubc::Result<ubc::RestResponseFrame> r = ubc::DecodeRestResponseFrame(input); r.ok()) {
      const std::string encoded = ubc::EncodeRestResponseFrame(*r);
      FUZZ_CHECK(std::string_view(encoded).substr(ubc::kRestFrameHeaderBytes) == input,
                 Show(input));
    }
  });
  return 0;
}
