// MessageFramer: splits a byte stream into complete top-level JSON objects.
//
// The runtimes send their container process state over a unix stream socket
// and keep the connection open, so there is no EOF to wait for: a message ends
// where its outermost '}' closes. A message may arrive split over several
// reads, or several may arrive in one read. The framer counts braces outside
// JSON strings (honouring backslash escapes) and returns each object's exact
// bytes; it does not check that they are valid JSON, which the parser does
// (container_state.h). Whitespace between objects is dropped.
//
// Any error poisons the framer: every later Append() returns the first error
// and NextMessage() returns nothing, because the stream can no longer be
// resynchronised and the caller drops the connection. One framer per
// connection; not thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ubc {

class MessageFramer {
 public:
  // Messages longer than `max_message_bytes` (from '{' to '}') are an error.
  explicit MessageFramer(size_t max_message_bytes);

  // Consumes `bytes`. Errors: a message over the bound (reported as soon as
  // the partial message exceeds it), a non-whitespace byte outside an object
  // (garbage, a top-level array or scalar, a stray '}'), or a NUL byte anywhere.
  Status Append(std::string_view bytes);

  // The oldest complete message not yet returned, or nullopt.
  std::optional<std::string> NextMessage();

  // Bytes held: complete messages not yet returned plus the partial one.
  size_t buffered_bytes() const;

  bool poisoned() const { return !error_.ok(); }

 private:
  Status Fail(std::string message);

  size_t max_message_bytes_;
  std::deque<std::string> complete_;
  size_t complete_bytes_ = 0;
  std::string partial_;  // bytes of the message being read, from its '{'
  size_t depth_ = 0;     // open braces in partial_, outside strings
  bool in_string_ = false;
  bool escaped_ = false;  // the previous byte in a string was an unescaped '\'
  Status error_;
};

}  // namespace ubc
