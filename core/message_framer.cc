#include "core/message_framer.h"

#include <cstdio>
#include <utility>

namespace ubc {
namespace {

// JSON's insignificant whitespace (RFC 8259 section 2).
bool IsJsonWhitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string ShowByte(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u <= 0x7e) return std::string("'") + c + "'";
  char hex[8];
  std::snprintf(hex, sizeof(hex), "0x%02x", u);
  return hex;
}

}  // namespace

MessageFramer::MessageFramer(size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

Status MessageFramer::Fail(std::string message) {
  error_ = Status::Error("message framer: " + std::move(message));
  // Nothing of a broken stream is delivered, not even messages completed
  // before the error: the connection is being dropped anyway.
  complete_.clear();
  complete_bytes_ = 0;
  partial_.clear();
  return error_;
}

Status MessageFramer::Append(std::string_view bytes) {
  if (!error_.ok()) return error_;
  for (const char c : bytes) {
    if (c == '\0') return Fail("NUL byte in stream");
    if (depth_ == 0) {
      if (IsJsonWhitespace(c)) continue;
      if (c != '{') {
        return Fail("unexpected byte " + ShowByte(c) + " outside a JSON object");
      }
    }
    partial_.push_back(c);
    if (partial_.size() > max_message_bytes_) {
      return Fail("message larger than " + std::to_string(max_message_bytes_) + " bytes");
    }
    if (in_string_) {
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{') {
      ++depth_;
    } else if (c == '}') {
      if (--depth_ == 0) {
        complete_bytes_ += partial_.size();
        complete_.push_back(std::move(partial_));
        partial_.clear();
      }
    }
  }
  return Status::Ok();
}

std::optional<std::string> MessageFramer::NextMessage() {
  if (!error_.ok() || complete_.empty()) return std::nullopt;
  std::string message = std::move(complete_.front());
  complete_.pop_front();
  complete_bytes_ -= message.size();
  return message;
}

size_t MessageFramer::buffered_bytes() const { return complete_bytes_ + partial_.size(); }

}  // namespace ubc
