// Notifier: one seccomp user-notification listener as the notify responder
// sees it: receive a notification, check that its target still waits, answer.
//
// SeccompNotifier (supervisor/seccomp_notifier.h) is the kernel's; tests use
// a fake that plays scripted notifications (supervisor/fake_notifier.h). The
// responder's thread for a notifier is the only caller of Receive/IdValid/
// Respond; Interrupt() may be called from any thread.
#pragma once

#include <linux/seccomp.h>

#include <cstdint>

#include "core/status.h"

namespace ubc {

class Notifier {
 public:
  enum class RecvResult {
    kNotification,  // *request holds one
    kRetry,         // interrupted or withdrawn: ask again (after checking for shutdown)
    kHangup,        // the filter has no task left: nothing will come any more
    kError,
  };
  virtual ~Notifier() = default;

  // Blocks until a notification arrives, the filter hangs up, or Interrupt().
  virtual RecvResult Receive(seccomp_notif* request) = 0;
  // SECCOMP_IOCTL_NOTIF_ID_VALID: the target is still waiting on `id`.
  virtual bool IdValid(uint64_t id) const = 0;
  // Exactly one response per notification. A target that vanished meanwhile
  // is not an error.
  virtual Status Respond(const seccomp_notif_resp& response) = 0;
  // Makes a Receive() blocked in another thread return kRetry soon; used to
  // stop the responder. May have to be repeated: a call that comes just before
  // the other thread blocks is not remembered.
  virtual void Interrupt() = 0;
};

}  // namespace ubc
