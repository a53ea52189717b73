// ProcessPin: a pidfd on one process and the identity of the image it ran
// when pinned, so that ubcd kills an exec'd image (docs/accounting.md,
// "exec") and never another process that reused its pid, nor a later image
// of the same process.
//
// Pin() opens the pidfd first, then reads the image's start_brk from
// /proc/PID/stat (randomised at every exec), then checks through the pidfd
// that the process is still alive: so what was read under /proc/PID was the
// pinned process's. StillThatImage() reads it again the same way. Kill()
// signals through the pidfd, which cannot reach any other process. Needs
// CAP_SYS_PTRACE for the stat fields of other users' processes and CAP_KILL
// to signal them (supervisor/privileges.h keeps both). Owns its pidfd; one
// thread's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "core/status.h"
#include "core/unique_fd.h"

namespace ubc {

// What the exec check needs of a pinned process (a fake in unit tests).
class PinnedImage {
 public:
  virtual ~PinnedImage() = default;
  virtual int tgid() const = 0;
  // Its command name when pinned ("?" when unreadable), for the refusal log.
  virtual const std::string& comm() const = 0;
  // Alive, and running the image it ran when pinned.
  virtual bool StillThatImage() const = 0;
  // SIGKILL through the pidfd.
  virtual Status Kill() const = 0;
};

class ProcessPin : public PinnedImage {
 public:
  // ESRCH when the process is gone.
  static Result<std::unique_ptr<ProcessPin>> Pin(int tgid);
  int tgid() const override { return tgid_; }
  const std::string& comm() const override { return comm_; }
  uint64_t start_brk() const { return start_brk_; }
  bool StillThatImage() const override;
  Status Kill() const override;

 private:
  ProcessPin(int tgid, UniqueFd pidfd, uint64_t start_brk)
      : tgid_(tgid), pidfd_(std::move(pidfd)), start_brk_(start_brk) {}
  Result<uint64_t> ReadStartBrk() const;

  int tgid_;
  UniqueFd pidfd_;
  uint64_t start_brk_;
  std::string comm_ = "?";
};

}  // namespace ubc
