#include "supervisor/ipc_namespace_service.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/units.h"
#include "supervisor/unix_socket.h"

namespace ubc {
namespace {

// The reader's first packet: ready (error_number 0), or the step that failed.
// Its size differs from a reply's, so neither is taken for the other.
struct ReaderHello {
  int32_t error_number = 0;
  uint32_t step = 0;
};

enum ReaderStep : uint32_t {
  kReady = 0,
  kDeathSignal,
  kCloseFds,
  kHomeNamespace,
  kNoSysAdmin,
  kBoundingSet,
  kCapabilities,
  kAmbient,
  kNoNewPrivs,
  kDumpable,
};

const char* StepName(uint32_t step) {
  switch (step) {
    case kDeathSignal:
      return "setting its parent-death signal";
    case kCloseFds:
      return "closing inherited fds";
    case kHomeNamespace:
      return "opening its own ipc namespace";
    case kNoSysAdmin:
      return "keeping CAP_SYS_ADMIN (the caller has none to give)";
    case kBoundingSet:
      return "clearing the bounding set (needs CAP_SETPCAP)";
    case kCapabilities:
      return "keeping only CAP_SYS_ADMIN";
    case kAmbient:
      return "clearing the ambient set";
    case kNoNewPrivs:
      return "setting no_new_privs";
    case kDumpable:
      return "making itself non-dumpable";
    default:
      return "an unknown start-up step";
  }
}

// Room for a few fds: more than one is an error, and whatever does not fit
// is dropped (closed) by the kernel with MSG_CTRUNC.
// How long the destructor lets the reader leave on end-of-file before
// killing it.
constexpr auto kExitGrace = std::chrono::milliseconds(1000);
// How long a broken service waits to say how the reader ended.
constexpr auto kExitReportWait = std::chrono::milliseconds(100);

int PidfdOpen(int pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// Waits until the process behind `pidfd` has exited (not reaped), at most `wait`.
bool WaitForExit(int pidfd, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{pidfd, POLLIN, 0};
    const int ready = ::poll(&p, 1, left.count() > 0 ? static_cast<int>(left.count()) : 0);
    if (ready > 0) return true;
    if (ready < 0 && errno == EINTR) continue;
    return false;
  }
}

// Not in every libc's headers: shmctl by index without a permission check
// (Linux 4.17).
constexpr int kShmStatAny = 15;
constexpr unsigned kShmLocked = 02000;  // SHM_LOCKED in shm_perm.mode

// Visits every segment of the caller's IPC namespace, by index up to the
// highest in use (shmctl(SHM_INFO)'s return): f(shmid, shmid_ds).
template <typename F>
int ForEachSegmentHere(int highest_index, F&& f) {
  for (int index = 0; index <= highest_index; ++index) {
    shmid_ds ds{};
    const int shmid = ::shmctl(index, kShmStatAny, &ds);
    if (shmid < 0) {
      if (errno == EINVAL || errno == EIDRM) continue;  // a free index, or removed meanwhile
      return errno;
    }
    f(shmid, ds);
  }
  return 0;
}

// shmctl(SHM_INFO) in the caller's IPC namespace, and the locked segments:
// 0 or an errno.
int ShmInfoHere(ShmUsage* out) {
  shm_info info{};
  const int highest = ::shmctl(0, SHM_INFO, reinterpret_cast<shmid_ds*>(&info));
  if (highest < 0) return errno;
  out->pages = info.shm_tot;
  out->segments = static_cast<uint64_t>(info.used_ids);
  out->locked_pages = 0;
  if (info.used_ids == 0) return 0;
  return ForEachSegmentHere(highest, [&](int, const shmid_ds& ds) {
    if ((ds.shm_perm.mode & kShmLocked) != 0) {
      out->locked_pages = SaturatingAdd(out->locked_pages, PagesForBytes(ds.shm_segsz));
    }
  });
}

// The segment `shmid` of the caller's IPC namespace: 0 or an errno.
int ShmSegmentHere(int shmid, ShmSegment* out) {
  *out = ShmSegment{};
  shm_info info{};
  const int highest = ::shmctl(0, SHM_INFO, reinterpret_cast<shmid_ds*>(&info));
  if (highest < 0) return errno;
  if (shmid < 0) return 0;
  return ForEachSegmentHere(highest, [&](int id, const shmid_ds& ds) {
    if (id != shmid) return;
    out->exists = true;
    out->pages = PagesForBytes(ds.shm_segsz);
    out->locked = (ds.shm_perm.mode & kShmLocked) != 0;
  });
}

// The reader's work for one request: joins the namespace of `ns_fd`, reads
// it, and rejoins `home`. False when it could not rejoin: then it must not
// answer anything more.
bool ReadNamespace(int ns_fd, int home, uint32_t op, int shmid, IpcNamespaceReply* reply) {
  // setns() alone would also take a pidfd (joining that process's
  // namespace): only namespace files are accepted, and only IPC ones
  // (setns checks the type against CLONE_NEWIPC).
  struct statfs fs {};
  if (::fstatfs(ns_fd, &fs) != 0) {
    reply->error_number = errno;
    return true;
  }
  if (fs.f_type != NSFS_MAGIC) {
    reply->error_number = EINVAL;
    return true;
  }
  if (::setns(ns_fd, CLONE_NEWIPC) != 0) {
    reply->error_number = errno;
    return true;
  }
  if (op == IpcNamespaceRequest::kShmSegment) {
    ShmSegment segment;
    reply->error_number = ShmSegmentHere(shmid, &segment);
    reply->pages = segment.pages;
    reply->segments = segment.exists ? 1 : 0;
    reply->locked_pages = segment.locked ? segment.pages : 0;
  } else {
    ShmUsage usage;
    reply->error_number = ShmInfoHere(&usage);
    reply->pages = usage.pages;
    reply->segments = usage.segments;
    reply->locked_pages = usage.locked_pages;
  }
  return ::setns(home, CLONE_NEWIPC) == 0;
}

// A zero-length read is end-of-file only when the peer is gone; a live peer
// may also send an empty packet, which is just a malformed request.
bool PeerGone(int sock) {
  pollfd p{sock, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLRDHUP)) != 0;
}

int ServeRequests(int sock, int home) {
  for (;;) {
    alignas(IpcNamespaceRequest) unsigned char buf[sizeof(IpcNamespaceRequest) + 1];
    std::vector<UniqueFd> fds;
    int flags = 0;
    const ssize_t n = ReceiveWithFds(sock, buf, sizeof buf, 0, &flags, &fds);
    if (n < 0) return 1;
    if (n == 0 && fds.empty() && PeerGone(sock)) return 0;
    IpcNamespaceRequest request;
    IpcNamespaceReply reply;
    bool home_again = true;
    if ((flags & MSG_TRUNC) != 0 || static_cast<size_t>(n) != sizeof request) {
      reply.error_number = EMSGSIZE;
    } else {
      std::memcpy(&request, buf, sizeof request);
      reply.sequence = request.sequence;
      if ((flags & MSG_CTRUNC) != 0 || fds.size() != 1) {
        reply.error_number = EBADF;
      } else if (request.op != IpcNamespaceRequest::kShmInfo &&
                 request.op != IpcNamespaceRequest::kShmSegment) {
        reply.error_number = EOPNOTSUPP;
      } else {
        home_again = ReadNamespace(fds[0].get(), home, request.op, request.shmid, &reply);
      }
    }
    fds.clear();  // closed before answering: the reader keeps nothing of a request
    if (!home_again) return 1;
    const int sent = SendPacket(sock, &reply, sizeof reply, -1, 0);
    if (sent == EPIPE || sent == ECONNRESET) return 0;
    if (sent != 0) return 1;
  }
}

// Drops everything but CAP_SYS_ADMIN; 0 and kReady, or an errno and the step.
std::pair<int, uint32_t> KeepOnlySysAdmin() {
  cap_t current = cap_get_proc();
  if (current == nullptr) return {errno, kNoSysAdmin};
  cap_flag_value_t permitted = CAP_CLEAR;
  const int got = cap_get_flag(current, CAP_SYS_ADMIN, CAP_PERMITTED, &permitted);
  cap_free(current);
  if (got != 0 || permitted != CAP_SET) return {EPERM, kNoSysAdmin};
  // Up to the largest number a capability set can hold: whatever this
  // kernel knows of beyond the headers' CAP_LAST_CAP goes too (EINVAL past
  // its last one).
  for (int c = 0; c < 64; ++c) {
    if (c == CAP_SYS_ADMIN) continue;
    if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) return {errno, kBoundingSet};
  }
  cap_t caps = cap_init();  // all clear, the inheritable set too
  if (caps == nullptr) return {errno, kCapabilities};
  const cap_value_t kept[] = {CAP_SYS_ADMIN};
  int err = 0;
  if (cap_set_flag(caps, CAP_PERMITTED, 1, kept, CAP_SET) != 0 ||
      cap_set_flag(caps, CAP_EFFECTIVE, 1, kept, CAP_SET) != 0 || cap_set_proc(caps) != 0) {
    err = errno != 0 ? errno : EPERM;
  }
  cap_free(caps);
  if (err != 0) return {err, kCapabilities};
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return {errno, kAmbient};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return {errno, kNoNewPrivs};
  // No core file and no ptrace by a process without CAP_SYS_PTRACE.
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return {errno, kDumpable};
  return {0, kReady};
}

void SendHello(int sock, int error_number, uint32_t step) {
  ReaderHello hello;
  hello.error_number = error_number;
  hello.step = step;
  (void)SendPacket(sock, &hello, sizeof hello, -1, 0);
}

// The forked reader: never returns. Only _exit(): the parent's atexit
// handlers and stdio buffers are not the reader's to run or flush.
[[noreturn]] void RunReader(int sock, pid_t parent, int (*serve)(int socket_fd)) {
  // ubcd blocks its stop signals for its sigwait thread; the reader has none.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) {
    SendHello(sock, errno, kDeathSignal);
    ::_exit(1);
  }
  // ubcd may have died before the death signal was armed: nobody to serve.
  if (::getppid() != parent) ::_exit(0);
  // Nothing of ubcd's stays open here (its sockets, notify fds, stderr).
  if ((sock > 0 && ::close_range(0, static_cast<unsigned>(sock) - 1, 0) != 0) ||
      ::close_range(static_cast<unsigned>(sock) + 1, ~0U, 0) != 0) {
    SendHello(sock, errno, kCloseFds);
    ::_exit(1);
  }
  UniqueFd home(::open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC));
  if (!home) {
    SendHello(sock, errno, kHomeNamespace);
    ::_exit(1);
  }
  const auto [err, step] = KeepOnlySysAdmin();
  SendHello(sock, err, step);
  if (err != 0) ::_exit(1);
  ::_exit(serve != nullptr ? serve(sock) : ServeRequests(sock, home.get()));
}

std::string ReaderName(int pid) { return "ipc namespace reader (pid " + std::to_string(pid) + ")"; }

}  // namespace

int ServeIpcNamespaceRequests(int socket_fd) {
  UniqueFd home(::open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC));
  if (!home) return 1;
  return ServeRequests(socket_fd, home.get());
}

Result<std::unique_ptr<IpcNamespaceService>> IpcNamespaceService::Start() {
  return StartReader(nullptr);
}

Result<std::unique_ptr<IpcNamespaceService>> IpcNamespaceService::StartForTesting(
    int (*serve)(int socket_fd)) {
  return StartReader(serve);
}

Result<std::unique_ptr<IpcNamespaceService>> IpcNamespaceService::StartReader(
    int (*serve)(int socket_fd)) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return Status::FromErrno(errno, "ipc namespace reader: socketpair");
  }
  UniqueFd ours(pair[0]), theirs(pair[1]);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Status::FromErrno(errno, "ipc namespace reader: fork");
  if (pid == 0) RunReader(theirs.get(), parent, serve);
  theirs.reset();
  // Our own child, not reaped yet: its pid cannot have been reused.
  const auto reap = [pid] {
    (void)::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  };
  UniqueFd pidfd(PidfdOpen(pid));
  if (!pidfd) {
    const int err = errno;
    reap();
    return Status::FromErrno(err, ReaderName(pid) + ": pidfd_open");
  }
  // Its hello: privileges dropped, or why not.
  pollfd p{ours.get(), POLLIN, 0};
  int ready;
  do {
    ready = ::poll(&p, 1, static_cast<int>(kReplyTimeout.count()));
  } while (ready < 0 && errno == EINTR);
  ReaderHello hello;
  std::vector<UniqueFd> fds;
  int flags = 0;
  const ssize_t n =
      ready > 0 ? ReceiveWithFds(ours.get(), &hello, sizeof hello, MSG_DONTWAIT, &flags, &fds) : -1;
  if (n != static_cast<ssize_t>(sizeof hello) || (flags & MSG_TRUNC) != 0 || !fds.empty()) {
    reap();
    return Status::Error(ReaderName(pid) + ": " +
                         (ready <= 0
                              ? "not ready within " + std::to_string(kReplyTimeout.count()) + " ms"
                              : "no start-up report"));
  }
  if (hello.error_number != 0 || hello.step != kReady) {
    reap();
    const int err = hello.error_number > 0 && hello.error_number < 4096 ? hello.error_number : EIO;
    return Status::FromErrno(err, ReaderName(pid) + ": " + StepName(hello.step));
  }
  return std::unique_ptr<IpcNamespaceService>(
      new IpcNamespaceService(pid, std::move(pidfd), std::move(ours)));
}

IpcNamespaceService::IpcNamespaceService(int pid, UniqueFd pidfd, UniqueFd socket)
    : pid_(pid), pidfd_(std::move(pidfd)), socket_(std::move(socket)) {}

IpcNamespaceService::~IpcNamespaceService() {
  socket_.reset();  // end-of-file: the reader leaves
  if (!WaitForExit(pidfd_.get(), kExitGrace)) (void)PidfdSendSignal(pidfd_.get(), SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

std::string IpcNamespaceService::DescribeExitLocked() {
  (void)WaitForExit(pidfd_.get(), kExitReportWait);
  siginfo_t info{};
  // WNOWAIT: the destructor reaps it.
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
      info.si_pid == 0) {
    return "ended";
  }
  if (info.si_code == CLD_EXITED) return "exited " + std::to_string(info.si_status);
  return "killed by signal " + std::to_string(info.si_status);
}

Status IpcNamespaceService::BreakLocked(const std::string& reason) {
  broken_ = ReaderName(pid_) + ": " + reason;
  // A reader that answered out of step (or not at all) is of no more use;
  // a late answer must never be taken for the next request's.
  (void)PidfdSendSignal(pidfd_.get(), SIGKILL);
  socket_.reset();
  return Status::Error(broken_);
}

Result<ShmUsage> IpcNamespaceService::ShmUsageOf(int ns_fd) {
  Result<IpcNamespaceReply> reply = Ask(ns_fd, IpcNamespaceRequest::kShmInfo, -1);
  if (!reply.ok()) return reply.status();
  ShmUsage usage;
  usage.pages = reply->pages;
  usage.segments = reply->segments;
  usage.locked_pages = reply->locked_pages;
  return usage;
}

Result<ShmSegment> IpcNamespaceService::ShmSegmentOf(int ns_fd, int shmid) {
  Result<IpcNamespaceReply> reply = Ask(ns_fd, IpcNamespaceRequest::kShmSegment, shmid);
  if (!reply.ok()) return reply.status();
  ShmSegment segment;
  segment.exists = reply->segments != 0;
  segment.pages = reply->pages;
  segment.locked = reply->locked_pages != 0;
  return segment;
}

Result<IpcNamespaceReply> IpcNamespaceService::Ask(int ns_fd, uint32_t op, int shmid) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!broken_.empty()) return Status::Error(broken_);
  // A bad fd of the caller's is the caller's error, not the reader's.
  if (ns_fd < 0 || ::fcntl(ns_fd, F_GETFD) < 0) {
    return Status::FromErrno(EBADF, "ipc namespace fd " + std::to_string(ns_fd));
  }
  IpcNamespaceRequest request;
  request.op = op;
  request.shmid = shmid;
  request.sequence = ++sequence_;
  // At most one request is ever outstanding, so the socket's buffer has
  // room: never blocks.
  if (const int err = SendPacket(socket_.get(), &request, sizeof request, ns_fd, MSG_DONTWAIT);
      err != 0) {
    if (err == EPIPE || err == ECONNRESET) return BreakLocked(DescribeExitLocked());
    // Nothing was sent (a packet goes whole or not at all): still in step.
    return Status::FromErrno(err, ReaderName(pid_) + ": sending the request");
  }
  const auto deadline = std::chrono::steady_clock::now() + kReplyTimeout;
  for (;;) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return BreakLocked("no answer within " + std::to_string(kReplyTimeout.count()) +
                         " ms; killed");
    }
    pollfd p{socket_.get(), POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR)
      return BreakLocked(std::string("poll: ") + std::strerror(errno));
    if (ready <= 0) continue;

    alignas(IpcNamespaceReply) unsigned char buf[sizeof(IpcNamespaceReply) + 1];
    std::vector<UniqueFd> fds;  // a reader has no fd to give: closed at once
    int flags = 0;
    const ssize_t n = ReceiveWithFds(socket_.get(), buf, sizeof buf, MSG_DONTWAIT, &flags, &fds);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n < 0) return BreakLocked(std::string("receiving: ") + std::strerror(errno));
    if (n == 0) return BreakLocked(DescribeExitLocked());
    if (!fds.empty() || (flags & MSG_CTRUNC) != 0) return BreakLocked("a reply carrying fds");
    if ((flags & MSG_TRUNC) != 0 || static_cast<size_t>(n) != sizeof(IpcNamespaceReply)) {
      return BreakLocked("a reply of " + std::string((flags & MSG_TRUNC) != 0 ? "over " : "") +
                         std::to_string(n) + " bytes, not " +
                         std::to_string(sizeof(IpcNamespaceReply)));
    }
    IpcNamespaceReply reply;
    std::memcpy(&reply, buf, sizeof reply);
    if (reply.sequence != request.sequence) {
      return BreakLocked("a reply to request " + std::to_string(reply.sequence) + ", not " +
                         std::to_string(request.sequence));
    }
    if (reply.error_number < 0 || reply.error_number >= 4096) {
      return BreakLocked("a reply with errno " + std::to_string(reply.error_number));
    }
    if (reply.error_number != 0) {
      return Status::FromErrno(reply.error_number, ReaderName(pid_) + ": reading the namespace");
    }
    return reply;
  }
}

Result<std::unique_ptr<ContainerIpcNamespace>> ContainerIpcNamespace::Open(
    IpcNamespaceService* service, int pid) {
  if (pid <= 0) return Status::FromErrno(EINVAL, "ipc namespace of pid " + std::to_string(pid));
  const std::string path = "/proc/" + std::to_string(pid) + "/ns/ipc";
  UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return Status::FromErrno(errno, path);
  struct stat theirs {};
  struct stat ours {};
  if (::fstat(ns.get(), &theirs) != 0) return Status::FromErrno(errno, path);
  if (::stat("/proc/self/ns/ipc", &ours) != 0) return Status::FromErrno(errno, "/proc/self/ns/ipc");
  const bool shares = theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino;
  return std::unique_ptr<ContainerIpcNamespace>(
      new ContainerIpcNamespace(service, pid, std::move(ns), shares));
}

Result<ShmUsage> ContainerIpcNamespace::Usage() {
  const std::string what = "ipc namespace of pid " + std::to_string(pid_);
  if (shares_ubcd_namespace_) {
    // ubcd's own namespace: shmctl needs no capability.
    ShmUsage usage;
    if (const int err = ShmInfoHere(&usage); err != 0) {
      return Status::FromErrno(err, what + ": shmctl(SHM_INFO)");
    }
    return usage;
  }
  if (service_ == nullptr) {
    return Status::Error(what +
                         ": not ubcd's own, and no ipc namespace reader to read it (the reader "
                         "must be started while ubcd has CAP_SYS_ADMIN)");
  }
  Result<ShmUsage> usage = service_->ShmUsageOf(ns_.get());
  if (!usage.ok()) return usage.status().Wrap(what);
  return usage;
}

Result<ShmSegment> ContainerIpcNamespace::Segment(int shmid) {
  const std::string what = "ipc namespace of pid " + std::to_string(pid_);
  if (shares_ubcd_namespace_) {
    ShmSegment segment;
    if (const int err = ShmSegmentHere(shmid, &segment); err != 0) {
      return Status::FromErrno(err, what + ": shmctl(SHM_STAT_ANY)");
    }
    return segment;
  }
  if (service_ == nullptr) {
    return Status::Error(what + ": not ubcd's own, and no ipc namespace reader to read it");
  }
  Result<ShmSegment> segment = service_->ShmSegmentOf(ns_.get(), shmid);
  if (!segment.ok()) return segment.status().Wrap(what);
  return segment;
}

}  // namespace ubc
