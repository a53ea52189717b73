// Status and Result<T>: errors as values for the ubc core.
//
// A Status is either ok or carries a short lowercase message naming the value
// that failed (crun's style). Result<T> holds a T or a non-ok Status. Neither
// throws; exceptions from third-party libraries are caught at the adapter that
// called them and turned into a Status there. A refused syscall is a verdict,
// never a Status. Both types are plain values: copyable, not thread-safe for
// concurrent mutation, safe to share read-only. Both are [[nodiscard]]: an
// error dropped on the floor is a bug; `(void)` says it was meant.
#pragma once

#include <cassert>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace ubc {

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message)); }
  // "context: strerror(error_number)", keeping the errno for callers that
  // branch on it (EAGAIN, ENOENT, EMFILE...).
  static Status FromErrno(int error_number, const std::string& context) {
    Status s(context + ": " + std::strerror(error_number));
    s.error_number_ = error_number;
    return s;
  }

  bool ok() const { return !message_.has_value(); }
  // The errno of a FromErrno() status, 0 otherwise.
  int error_number() const { return error_number_; }
  const std::string& message() const {
    static const std::string kOk = "ok";
    return message_ ? *message_ : kOk;
  }
  // Prefixes context ("reading /etc/ubc/x.json: " + message) to an error.
  Status Wrap(const std::string& context) const {
    if (ok()) return *this;
    Status s(context + ": " + *message_);
    s.error_number_ = error_number_;
    return s;
  }

 private:
  explicit Status(std::string message) : message_(std::move(message)) {}
  std::optional<std::string> message_;
  int error_number_ = 0;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status error) : v_(std::move(error)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace ubc
