// RestFrame: how ubcd and its HTTP process (supervisor/rest_worker.h) pass one
// REST request and its response over their private socket.
//
// The HTTP process parses HTTP and nothing else; ubcd routes, checks the token
// and answers (core/rest_api.h), so the frames carry a RestRequest one way and
// a RestResponse back. A frame is a 4-byte little-endian payload length, then
// the payload: a u64 request id, fixed fields, and length-prefixed strings
// (any bytes: bodies need not be text). Decoding is strict, because ubcd
// trusts the HTTP process no further than the frame's shape: a length over
// the bound, a string running past the end, trailing bytes or an unknown flag
// are errors, and ubcd then drops that connection. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/rest_api.h"
#include "core/status.h"

namespace ubc {

inline constexpr size_t kRestFrameHeaderBytes = 4;
// A request: the body cap plus room for the method, a path and a header.
inline constexpr size_t kMaxRestRequestFrameBytes = kMaxRestBodyBytes + 32 * 1024;
// A response: the whole container list of a busy host.
inline constexpr size_t kMaxRestResponseFrameBytes = 64 * 1024 * 1024;
// Request strings the HTTP process forwards are cut to these (the path of a
// 16 MiB URL is not worth carrying: it can only be a 404 or a 400).
inline constexpr size_t kMaxRestPathBytes = 8 * 1024;
inline constexpr size_t kMaxRestAuthorizationBytes = 4 * 1024;

struct RestRequestFrame {
  uint64_t id = 0;
  RestRequest request;
};

struct RestResponseFrame {
  uint64_t id = 0;
  RestResponse response;
};

// Header and payload. The request's path and authorization are cut to the
// bounds above (a cut path still routes to the 404 or 400 it would get).
std::string EncodeRestRequestFrame(const RestRequestFrame& frame);
std::string EncodeRestResponseFrame(const RestResponseFrame& frame);

// The payload length a header announces, or an error when it is over `max_bytes`.
// `header` must hold kRestFrameHeaderBytes bytes.
Result<size_t> RestFramePayloadBytes(std::string_view header, size_t max_bytes);

// A payload (what follows the header) back into its frame.
Result<RestRequestFrame> DecodeRestRequestFrame(std::string_view payload);
Result<RestResponseFrame> DecodeRestResponseFrame(std::string_view payload);

}  // namespace ubc
