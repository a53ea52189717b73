// HttpRequest: one HTTP/1.1 request parsed from the bytes a connection has
// sent so far (RFC 9112), for the REST API's HTTP process.
//
// ParseHttpRequest() looks at the start of a connection's buffer and says
// whether it holds a whole request yet, and if so how many bytes it took.
// It is strict where a lax parser would let a client hold resources or be
// misread: the head (request line and headers) is bounded, line folding,
// a malformed Content-Length, Content-Length together with
// Transfer-Encoding, and any coding but chunked are errors with the status
// to answer. A body over the bound is not kept: the request comes back
// with body_too_large (the API answers 413) once its head is complete, and
// the connection is closed after the answer. Only the parts the API needs
// are kept (method, target, Authorization, body, keep-alive). Pure
// function; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ubc {

struct HttpLimits {
  size_t max_head_bytes = 8 * 1024;
  size_t max_headers = 64;
  size_t max_body_bytes = 64 * 1024;
};

struct HttpRequest {
  std::string method;
  std::string target;  // origin-form ("/path?query"); an absolute-form target's path part
  std::string authorization;
  std::string body;
  bool body_too_large = false;  // the body was over max_body_bytes (or its length unknown)
  bool keep_alive = true;       // HTTP/1.1 unless "Connection: close"; 1.0 only if asked
};

struct HttpParse {
  enum class Kind {
    kNeedMore,  // not a whole request yet
    kRequest,   // `request`, taking `consumed` bytes
    kError,     // answer `error_status` with `error_message`, then close
  };
  Kind kind = Kind::kNeedMore;
  size_t consumed = 0;
  HttpRequest request;
  // kNeedMore: the head is complete and asked "Expect: 100-continue"; the
  // server sends "100 Continue" once, before the body.
  bool expects_continue = false;
  int error_status = 0;
  std::string error_message;
};

HttpParse ParseHttpRequest(std::string_view buffer, const HttpLimits& limits);

// The status line's reason phrase ("Not Found"); "Unknown" for others.
std::string_view HttpReason(int status);

}  // namespace ubc
