// SeccompNotifier: one seccomp user-notification listener fd and its ioctls.
//
// Owns the fd (closed on destruction). Receive() blocks in
// SECCOMP_IOCTL_NOTIF_RECV, which with SYNC_WAKE_UP is the fastest wait the
// kernel offers (docs/performance.md, "The floor"); on kernels that wake a
// blocked RECV when the filter loses its last task (>= 6.6) hang-up is noticed
// there, elsewhere a poll() before RECV notices it. One thread uses a notifier
// at a time; IdValid() and Respond() are safe from that thread only.
#pragma once

#include <linux/seccomp.h>

#include <cstdint>

#include "core/status.h"
#include "core/unique_fd.h"

namespace ubc {

class SeccompNotifier {
 public:
  explicit SeccompNotifier(UniqueFd fd);

  // True when `fd` is a seccomp notify listener (anon_inode:seccomp notify).
  static bool IsListenerFd(int fd);

  enum class RecvResult { kNotification, kRetry, kHangup, kError };
  RecvResult Receive(seccomp_notif* request);

  // SECCOMP_IOCTL_NOTIF_ID_VALID: the target is still waiting on `id`.
  bool IdValid(uint64_t id) const;

  // Exactly one response per notification. A target that vanished meanwhile
  // (ENOENT) is not an error.
  Status Respond(const seccomp_notif_resp& response);

  bool sync_wake_up() const { return sync_wake_up_; }
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  bool sync_wake_up_ = false;
};

}  // namespace ubc
