#include "supervisor/rest_keeper.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/monotonic_clock.h"
#include "supervisor/unix_socket.h"

namespace ubc {
namespace {

// The worker's end of its socket: fd 3, as `ubcd --rest-worker` expects.
constexpr int kWorkerSocketFd = 3;

void SleepMs(int64_t ms) {
  timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>((ms % 1000) * 1000000)};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// CAP_SETUID and CAP_SETGID for the workers' setresuid/setresgid, and
// CAP_KILL: a death signal is checked like a kill(2) by the dying parent,
// so without it the keeper's death could not take its worker (another
// uid) along.
bool KeepOnlySetIdAndKill() {
  for (int c = 0; c < 64; ++c) {
    if (c == CAP_SETUID || c == CAP_SETGID || c == CAP_KILL) continue;
    if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) return false;
  }
  cap_t caps = cap_init();
  if (caps == nullptr) return false;
  const cap_value_t kept[] = {CAP_SETUID, CAP_SETGID, CAP_KILL};
  const bool ok = cap_set_flag(caps, CAP_PERMITTED, 3, kept, CAP_SET) == 0 &&
                  cap_set_flag(caps, CAP_EFFECTIVE, 3, kept, CAP_SET) == 0 &&
                  cap_set_proc(caps) == 0;
  cap_free(caps);
  return ok && ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == 0 &&
         ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0;
}

// The forked worker, before exec: only async-signal-safe calls (the keeper
// is single-threaded, but this stays right if that changes).
[[noreturn]] void ExecWorker(int worker_end, pid_t keeper, const RestWorkerUser& user,
                             const char* executable, char* const argv[]) {
  // dup2 onto itself keeps close-on-exec: then it is cleared by hand.
  if (worker_end == kWorkerSocketFd ? ::fcntl(worker_end, F_SETFD, 0) != 0
                                    : ::dup2(worker_end, kWorkerSocketFd) < 0) {
    ::_exit(121);
  }
  if (::close_range(kWorkerSocketFd + 1, ~0U, 0) != 0) ::_exit(122);
  // Leaving uid 0 for good clears every capability: nothing is kept
  // across it (no SECBIT_KEEP_CAPS), and exec gives none back.
  if (::setgroups(0, nullptr) != 0 || ::setresgid(user.gid, user.gid, user.gid) != 0 ||
      ::setresuid(user.uid, user.uid, user.uid) != 0) {
    ::_exit(123);
  }
  if (user.uid != 0 && (::setuid(0) == 0)) ::_exit(124);  // must be gone for good
  // After the uid change, which clears the death signal; the keeper may have
  // died before it was armed.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || ::getppid() != keeper) ::_exit(120);
  ::execv(executable, argv);
  ::_exit(127);
}

[[noreturn]] void RunKeeper(int link, pid_t parent, const RestWorkerUser& user,
                            const std::vector<std::string>& args, const std::string& executable) {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) ::_exit(1);
  if (::getppid() != parent) ::_exit(0);
  // stdin, stdout and stderr stay (the worker logs where ubcd does); nothing
  // else of ubcd's.
  if ((link > 3 && ::close_range(3, static_cast<unsigned>(link) - 1, 0) != 0) ||
      ::close_range(static_cast<unsigned>(link) + 1, ~0U, 0) != 0) {
    ::_exit(1);
  }
  RestKeeperReport failed;
  failed.kind = RestKeeperReport::kFailed;
  failed.uid = user.uid;
  if (!KeepOnlySetIdAndKill()) {
    failed.error_number = errno != 0 ? errno : EPERM;
    (void)SendPacket(link, &failed, sizeof failed, -1, 0);
    ::_exit(1);
  }
  std::vector<std::string> argv_text = {"ubcd-rest"};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t self = ::getpid();
  int64_t delay_ms = kFirstRestartMs;
  for (;;) {
    int pair[2];
    pid_t pid = -1;
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0) {
      pid = ::fork();
      if (pid == 0) ExecWorker(pair[1], self, user, executable.c_str(), argv.data());
      const int err = errno;
      ::close(pair[1]);
      if (pid > 0) {
        RestKeeperReport started;
        started.kind = RestKeeperReport::kStarted;
        started.pid = pid;
        started.uid = user.uid;
        const int sent = SendPacket(link, &started, sizeof started, pair[0], 0);
        ::close(pair[0]);
        if (sent != 0) {  // ubcd is gone
          ::kill(pid, SIGKILL);
          ::_exit(0);
        }
      } else {
        ::close(pair[0]);
        errno = err;
      }
    }
    if (pid < 0) {
      failed.error_number = errno;
      failed.next_start_ms = static_cast<uint32_t>(delay_ms);
      if (SendPacket(link, &failed, sizeof failed, -1, 0) != 0) ::_exit(0);
      SleepMs(delay_ms);
      delay_ms = std::min(delay_ms * 2, kMaxRestartMs);
      continue;
    }
    const int64_t started_ms = MonotonicMs();
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    delay_ms = MonotonicMs() - started_ms < kQuickExitMs ? delay_ms : kFirstRestartMs;
    RestKeeperReport exited;
    exited.kind = RestKeeperReport::kExited;
    exited.pid = pid;
    exited.uid = user.uid;
    exited.wait_status = status;
    exited.next_start_ms = static_cast<uint32_t>(delay_ms);
    if (SendPacket(link, &exited, sizeof exited, -1, 0) != 0) ::_exit(0);
    SleepMs(delay_ms);
    delay_ms = std::min(delay_ms * 2, kMaxRestartMs);
  }
}

}  // namespace

RestWorkerUser ResolveRestWorkerUser(const std::string& name, bool* fallback) {
  *fallback = false;
  for (const std::string& n : {name, std::string("nobody")}) {
    if (const passwd* pw = ::getpwnam(n.c_str()); pw != nullptr && pw->pw_uid != 0) {
      return RestWorkerUser{pw->pw_uid, pw->pw_gid, n};
    }
    *fallback = true;
  }
  return RestWorkerUser{65534, 65534, "65534"};
}

Result<std::unique_ptr<RestKeeper>> RestKeeper::Start(const RestWorkerUser& user,
                                                      std::vector<std::string> worker_args,
                                                      std::string executable) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return Status::FromErrno(errno, "rest keeper: socketpair");
  }
  UniqueFd ours(pair[0]), theirs(pair[1]);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Status::FromErrno(errno, "rest keeper: fork");
  if (pid == 0) RunKeeper(theirs.get(), parent, user, worker_args, executable);
  theirs.reset();
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) {
    const int err = errno;
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return Status::FromErrno(err, "rest keeper: pidfd_open");
  }
  return std::unique_ptr<RestKeeper>(new RestKeeper(pid, std::move(pidfd), std::move(ours)));
}

RestKeeper::~RestKeeper() {
  link_.reset();
  // Our own child, not reaped yet: the pidfd names it, whatever its pid.
  (void)::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace ubc
