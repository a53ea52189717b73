// HttpClient: ubcctl's one HTTP call to ubcd's REST API (cpprestsdk adapter).
//
// The only file of ctl/ that sees cpprestsdk: one synchronous request with a
// timeout, every cpprestsdk exception caught and turned into a Status whose
// message says what to check. No state; thread-safe.
#pragma once

#include <chrono>
#include <string>

#include "core/status.h"

namespace ubc {

struct HttpReply {
  int http_status = 0;
  std::string body;
};

// `method` to `base_url` + `path_and_query` (already percent-encoded). A
// non-empty `bearer_token` is sent as "Authorization: Bearer ...", a
// non-empty `json_body` as application/json. Any HTTP status is a reply; only
// transport failures are errors.
Result<HttpReply> HttpCall(const std::string& base_url, const std::string& method,
                           const std::string& path_and_query, const std::string& json_body,
                           const std::string& bearer_token, std::chrono::seconds timeout);

}  // namespace ubc
