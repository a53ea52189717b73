// SeccompNotifier: one seccomp user-notification listener fd and its ioctls.
//
// Owns the fd (closed on destruction). Receive() blocks in
// SECCOMP_IOCTL_NOTIF_RECV, which with SYNC_WAKE_UP is the fastest wait the
// kernel offers (docs/performance.md, "The floor"); on kernels that wake a
// blocked RECV when the filter loses its last task (>= 6.6) hang-up is noticed
// there, elsewhere a poll() before RECV notices it. Interrupt() sends the
// receiving thread kWakeSignal (a no-op handler installed without SA_RESTART
// by InstallWakeSignal()), which makes the blocked ioctl return EINTR. One
// thread receives at a time; IdValid() and Respond() are safe from that thread
// only, Interrupt() from any.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdint>

#include "core/status.h"
#include "core/unique_fd.h"
#include "supervisor/notifier.h"

namespace ubc {

inline constexpr int kWakeSignal = SIGUSR1;
// Installs the no-op handler of kWakeSignal (once per process; idempotent).
void InstallWakeSignal();

class SeccompNotifier : public Notifier {
 public:
  explicit SeccompNotifier(UniqueFd fd);

  // True when `fd` is a seccomp notify listener (anon_inode:seccomp notify).
  static bool IsListenerFd(int fd);

  RecvResult Receive(seccomp_notif* request) override;
  bool IdValid(uint64_t id) const override;
  Status Respond(const seccomp_notif_resp& response) override;
  void Interrupt() override;

  bool sync_wake_up() const { return sync_wake_up_; }
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  bool sync_wake_up_ = false;
  std::atomic<bool> has_receiver_{false};
  pthread_t receiver_{};
};

}  // namespace ubc
