#include "supervisor/seccomp_notifier.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace ubc {
namespace {

// Debian 12's kernel headers predate these (Linux 6.6).
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

bool PollHangup(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int r = ::poll(&p, 1, timeout_ms);
  return r > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0 && (p.revents & POLLIN) == 0;
}

void IgnoreWake(int) {}

}  // namespace

void InstallWakeSignal() {
  static const bool installed = [] {
    struct sigaction action {};
    action.sa_handler = IgnoreWake;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: the blocked RECV returns EINTR
    return ::sigaction(kWakeSignal, &action, nullptr) == 0;
  }();
  (void)installed;
}

SeccompNotifier::SeccompNotifier(UniqueFd fd) : fd_(std::move(fd)) {
  // The woken supervisor then runs on the target's CPU and the target on
  // ours after the answer: fewer migrations and idle-CPU page-fault penalties.
  sync_wake_up_ =
      ::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, 0) == 0;
}

bool SeccompNotifier::IsListenerFd(int fd) {
  char link[64];
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = ::readlink(path.c_str(), link, sizeof link - 1);
  if (n <= 0) return false;
  link[n] = '\0';
  return std::strcmp(link, "anon_inode:seccomp notify") == 0;
}

Notifier::RecvResult SeccompNotifier::Receive(seccomp_notif* request) {
  if (!has_receiver_.load(std::memory_order_relaxed)) {
    receiver_ = ::pthread_self();
    has_receiver_.store(true, std::memory_order_release);
  }
  if (!sync_wake_up_) {
    // Kernels before 6.6 never wake a blocked RECV on hang-up.
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, -1) < 0) return errno == EINTR ? RecvResult::kRetry : RecvResult::kError;
    if ((p.revents & POLLIN) == 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
      return RecvResult::kHangup;
    }
  }
  std::memset(request, 0, sizeof *request);
  if (::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_RECV, request) == 0) return RecvResult::kNotification;
  switch (errno) {
    case EINTR:
      return RecvResult::kRetry;
    case ENOENT:
      // The target died before we read its notification, or (>= 6.6) the
      // filter lost its last task: only the latter is a hang-up.
      return PollHangup(fd_.get(), 0) ? RecvResult::kHangup : RecvResult::kRetry;
    default:
      return RecvResult::kError;
  }
}

void SeccompNotifier::Interrupt() {
  if (has_receiver_.load(std::memory_order_acquire)) ::pthread_kill(receiver_, kWakeSignal);
}

bool SeccompNotifier::IdValid(uint64_t id) const {
  return ::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

Status SeccompNotifier::Respond(const seccomp_notif_resp& response) {
  seccomp_notif_resp copy = response;
  if (::ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_SEND, &copy) == 0) return Status::Ok();
  if (errno == ENOENT) return Status::Ok();  // the target is gone; nothing waits
  return Status::Error(std::string("SECCOMP_IOCTL_NOTIF_SEND: ") + std::strerror(errno));
}

}  // namespace ubc
