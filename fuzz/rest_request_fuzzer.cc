// Fuzz target: what ubcd's REST API reads from a client (core/rest_api.h):
// request paths, the Authorization header and PATCH/PUT bodies.
//
// Input layout: the first line is the path, the second the Authorization
// header, the rest the body. Invariants: routing never accepts a container id
// with '/' or a control character and answers every refusal with a 4xx; a
// parsed limits change is whole for PUT and never has barrier > limit; a PUT
// body that parses also parses as a PATCH, to the same change; a token check
// never accepts an empty token. No exception escapes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/rest_api.h"
#include "fuzz/fuzz_check.h"

namespace {

using ubc::fuzz::Show;

std::string_view Line(std::string_view& rest) {
  const size_t nl = rest.find('\n');
  std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(bytes), size);
  const std::string_view path = Line(rest);
  const std::string_view authorization = Line(rest);
  const std::string_view body = rest;
  ubc::fuzz::RunGuarded([&] {
    const ubc::RouteResult route = ubc::RouteRestPath(path);
    if (route.target) {
      for (char c : route.target->container_id) {
        FUZZ_CHECK(c != '/' && static_cast<unsigned char>(c) >= 0x20 && c != 0x7f,
                   "id " + Show(route.target->container_id) + " from " + Show(path));
      }
    } else {
      FUZZ_CHECK(route.error.http_status >= 400 && route.error.http_status < 500,
                 std::to_string(route.error.http_status) + " for " + Show(path));
    }

    FUZZ_CHECK(!ubc::BearerTokenMatches(authorization, ""), "empty token matched");

    const ubc::Result<ubc::LimitsChange> put = ubc::ParseLimitsChange(body, /*whole=*/true);
    const ubc::Result<ubc::LimitsChange> patch = ubc::ParseLimitsChange(body, /*whole=*/false);
    for (const auto* r : {&put, &patch}) {
      if (r->ok() && (*r)->privvmpages) {
        FUZZ_CHECK((*r)->privvmpages->barrier_pages <= (*r)->privvmpages->limit_pages,
                   "barrier above limit accepted: " + Show(body));
      }
    }
    if (put.ok()) {
      FUZZ_CHECK(put->privvmpages.has_value(), "PUT without the whole object: " + Show(body));
      FUZZ_CHECK(patch.ok() && patch->privvmpages == put->privvmpages,
                 "PUT and PATCH disagree on " + Show(body));
    }
  });
  return 0;
}
