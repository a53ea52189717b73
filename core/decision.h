// Decision: one trapped syscall as the kernel captured it, and ubcd's answer.
//
// TrappedCall is the notification's content (thread, ABI, number, registers).
// Decision is what the accounting made of it: continue, fail with an errno,
// or return a value without running the call (a refused brk returns the old
// break). A refusal by the beancounter is a verdict (`refused`); a call that
// could not be decided at all is `undecidable` and is answered by the
// container's on_error policy, applied in one place: ApplyOnError(). Plain
// values; not thread-safe for concurrent mutation.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/annotations.h"
#include "core/syscall_classifier.h"

namespace ubc {

// One seccomp notification, as the kernel captured it.
struct TrappedCall {
  int tid = 0;  // notif.pid: a thread id in ubcd's pid namespace
  uint32_t arch = kAuditArchX86_64;
  int nr = -1;
  std::array<uint64_t, 6> args{};
};

struct Decision {
  enum class Action {
    kContinue,  // let the kernel run the call
    kFail,      // return -1 with errno `error_number`
    kReturn,    // return `return_value` without running the call (brk refusal)
  };
  Action action = Action::kContinue;
  int error_number = 0;
  uint64_t return_value = 0;
  ClassifiedCall call;
  ChargePlan plan;
  bool refused = false;
  // The call could not be decided (the container's processes could not be
  // read, an internal error): ApplyOnError() sets the action.
  bool undecidable = false;
  const char* resource = "privvmpages";  // the beancounter the call was checked against
  bool exact = false;                    // decided on an exact held value
  uint64_t held_pages = 0;               // held the decision was taken against
  uint64_t bound_pages = 0;              // barrier or limit checked
  std::string note;                      // why, for logs: "foreign architecture", read errors
  // The caller's process just exec'd an image that takes the container over
  // its limit, and the exec watcher has not killed it yet: the responder
  // kills it (SIGKILL) instead of letting its first call run.
  bool kill_caller = false;
};

// The container's on_error for an undecidable call: kContinue lets it run
// (fail open), kEnomem refuses it with ENOMEM (fail closed). Neither is a
// beancounter refusal: failcnt does not move. No-op for a decided call.
void ApplyOnError(OnError policy, Decision& d);

// A Decision for a call that cannot be decided at all (its arguments were
// lost, an exception escaped), with the policy applied.
Decision UndecidableDecision(OnError policy, std::string note);

}  // namespace ubc
