#include "supervisor/seccomp_notifier.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>

#include "supervisor/unix_socket.h"

namespace ubc {
namespace {

// What a trapped call returned in the child: its value and errno.
struct CallResult {
  long value = 0;
  int error = 0;
};

// A forked child with a real seccomp filter: getppid() goes to a user-notify
// listener, whose fd the child sends to the parent over a socketpair and
// closes. Commands over the same socketpair make it call getppid (itself, or
// in a grandchild) and report what the call returned. Killed and reaped on
// destruction, whatever the test did.
class TrappedChild {
 public:
  TrappedChild() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
      ADD_FAILURE() << "socketpair: " << std::strerror(errno);
      return;
    }
    UniqueFd parent_end(sv[0]), child_end(sv[1]);
    pid_ = ::fork();
    if (pid_ < 0) {
      ADD_FAILURE() << "fork: " << std::strerror(errno);
      return;
    }
    if (pid_ == 0) ::_exit(ChildMain(child_end.get()));
    child_end.reset();
    control_ = std::move(parent_end);
    listener_ = ReceiveFd(control_.get());
    if (!listener_) ADD_FAILURE() << "the child sent no seccomp listener fd";
  }
  ~TrappedChild() { Kill(); }
  TrappedChild(const TrappedChild&) = delete;
  TrappedChild& operator=(const TrappedChild&) = delete;

  pid_t pid() const { return pid_; }
  UniqueFd TakeListener() { return std::move(listener_); }

  // The child calls getppid(1, 2, 3, 4, 5, 6) (trapped); Result() says what it returned.
  bool Call() { return Send('c'); }
  std::optional<CallResult> Result(int timeout_ms = 10000) {
    pollfd p{control_.get(), POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return std::nullopt;
    CallResult r;
    if (::recv(control_.get(), &r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) {
      return std::nullopt;
    }
    return r;
  }
  // A grandchild under the same filter makes the trapped call; its pid.
  pid_t ForkCaller() {
    if (!Send('g')) return -1;
    std::optional<CallResult> r = Result();
    return r ? static_cast<pid_t>(r->value) : -1;
  }
  // Reaps the grandchild: its exit code (the errno of its call, 200 for a
  // value), or -1 when a signal killed it.
  int ReapCaller() {
    if (!Send('w')) return -2;
    std::optional<CallResult> r = Result();
    return r ? static_cast<int>(r->value) : -2;
  }
  // The child leaves by itself and is reaped: the filter has no task left.
  void Exit() {
    Send('q');
    Reap();
  }
  void Kill() {
    if (pid_ > 0) ::kill(pid_, SIGKILL);
    Reap();
  }

 private:
  bool Send(char command) { return ::send(control_.get(), &command, 1, MSG_NOSIGNAL) == 1; }
  void Reap() {
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  static long TrappedCall() { return ::syscall(SYS_getppid, 1, 2, 3, 4, 5, 6); }

  // Raw system calls only.
  static int ChildMain(int sock) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 10;
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
    int fd = static_cast<int>(
        ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog));
    if (fd < 0) return 11;
    const char tag = 'L';
    if (SendPacket(sock, &tag, 1, fd, 0) != 0) return 12;
    ::close(fd);  // the parent's copy is the only one
    pid_t caller = -1;
    char command;
    while (::recv(sock, &command, 1, 0) == 1) {
      CallResult r;
      if (command == 'c') {
        r.value = TrappedCall();
        r.error = r.value < 0 ? errno : 0;
      } else if (command == 'g') {
        caller = ::fork();
        if (caller == 0) {
          long v = TrappedCall();
          ::_exit(v < 0 ? errno : 200);
        }
        r.value = caller;
      } else if (command == 'w') {
        int status = 0;
        r.value =
            ::waitpid(caller, &status, 0) == caller && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      } else {
        return 0;
      }
      if (::send(sock, &r, sizeof r, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof r)) return 13;
    }
    return 0;
  }

  static UniqueFd ReceiveFd(int sock) {
    char tag = 0;
    iovec iov{&tag, 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    pollfd p{sock, POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) return UniqueFd();
    if (::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1) return UniqueFd();
    cmsghdr* h = CMSG_FIRSTHDR(&msg);
    if (h == nullptr || h->cmsg_type != SCM_RIGHTS) return UniqueFd();
    int fd;
    std::memcpy(&fd, CMSG_DATA(h), sizeof fd);
    return UniqueFd(fd);
  }

  pid_t pid_ = -1;
  UniqueFd control_;
  UniqueFd listener_;
};

// True when a notification waits to be received on `fd` within `timeout_ms`.
bool Pending(int fd, int timeout_ms = 10000) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN) != 0;
}

struct Received {
  Notifier::RecvResult result = Notifier::RecvResult::kError;
  seccomp_notif request{};
  bool in_time = false;  // returned by itself within the deadline
};

// Receive() in a thread of its own. `while_blocked` runs once the thread had
// time to block. A Receive() still blocked after `deadline` is interrupted
// (repeatedly, as Interrupt() asks) until it returns, so the thread is always
// joined and a wrong kernel behaviour fails the test instead of hanging it.
template <typename Action>
Received ReceiveInThread(SeccompNotifier& notifier, std::chrono::milliseconds deadline,
                         Action while_blocked) {
  Received out;
  std::atomic<bool> done{false};
  std::thread receiver([&] {
    out.result = notifier.Receive(&out.request);
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  while_blocked();
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!done && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  out.in_time = done;
  while (!done) {
    notifier.Interrupt();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  receiver.join();
  return out;
}

Received ReceiveInThread(SeccompNotifier& notifier, std::chrono::milliseconds deadline) {
  return ReceiveInThread(notifier, deadline, [] {});
}

seccomp_notif_resp Answer(uint64_t id, int64_t val, int32_t error, uint32_t flags) {
  seccomp_notif_resp r{};
  r.id = id;
  r.val = val;
  r.error = error;
  r.flags = flags;
  return r;
}

// Linux >= 6.6 has SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP.
bool KernelAtLeast(int major, int minor) {
  utsname u{};
  if (::uname(&u) != 0) return false;
  int have_major = 0, have_minor = 0;
  if (std::sscanf(u.release, "%d.%d", &have_major, &have_minor) != 2) return false;
  return have_major > major || (have_major == major && have_minor >= minor);
}

class SeccompNotifierTest : public ::testing::Test {
 protected:
  // Interrupt() signals the receiving thread: without the handler, SIGUSR1
  // would end the test binary.
  void SetUp() override { InstallWakeSignal(); }
};

TEST_F(SeccompNotifierTest, IsListenerFdTellsANotifyFdFromOtherFds) {
  TrappedChild child;
  UniqueFd listener = child.TakeListener();
  ASSERT_TRUE(listener);
  EXPECT_TRUE(SeccompNotifier::IsListenerFd(listener.get()));
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  EXPECT_FALSE(SeccompNotifier::IsListenerFd(read_end.get()));
  UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  EXPECT_FALSE(SeccompNotifier::IsListenerFd(null.get()));
  EXPECT_FALSE(SeccompNotifier::IsListenerFd(-1));
  const int closed = write_end.get();
  write_end.reset();
  EXPECT_FALSE(SeccompNotifier::IsListenerFd(closed));
}

TEST_F(SeccompNotifierTest, ReceivesTheTrappedCallAndContinueRunsTheRealCall) {
  TrappedChild child;
  UniqueFd fd = child.TakeListener();
  ASSERT_TRUE(fd);
  const int raw = fd.get();
  SeccompNotifier notifier(std::move(fd));
  EXPECT_EQ(notifier.fd(), raw);
  ASSERT_TRUE(child.Call());
  ASSERT_TRUE(Pending(notifier.fd()));
  seccomp_notif request;
  std::memset(&request, 0xff, sizeof request);  // Receive() clears it first
  ASSERT_EQ(notifier.Receive(&request), Notifier::RecvResult::kNotification);
  EXPECT_EQ(static_cast<pid_t>(request.pid), child.pid());
  EXPECT_EQ(request.data.nr, SYS_getppid);
  EXPECT_NE(request.data.arch, 0u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(request.data.args[i], static_cast<uint64_t>(i + 1));
  EXPECT_EQ(request.flags, 0u);
  EXPECT_TRUE(notifier.IdValid(request.id));
  EXPECT_FALSE(child.Result(50).has_value());  // the call waits for the answer
  ASSERT_TRUE(notifier.Respond(Answer(request.id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE)).ok());
  std::optional<CallResult> r = child.Result();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->value, ::getpid());  // the real getppid(): the child's parent is us
  EXPECT_FALSE(notifier.IdValid(request.id));
}

TEST_F(SeccompNotifierTest, AnErrnoAnswerFailsTheCallWithThatErrno) {
  TrappedChild child;
  SeccompNotifier notifier(child.TakeListener());
  ASSERT_TRUE(child.Call());
  ASSERT_TRUE(Pending(notifier.fd()));
  seccomp_notif request{};
  ASSERT_EQ(notifier.Receive(&request), Notifier::RecvResult::kNotification);
  ASSERT_TRUE(notifier.Respond(Answer(request.id, 0, -ENOMEM, 0)).ok());
  std::optional<CallResult> r = child.Result();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->value, -1);
  EXPECT_EQ(r->error, ENOMEM);
}

TEST_F(SeccompNotifierTest, AValueAnswerIsWhatTheCallReturns) {
  TrappedChild child;
  SeccompNotifier notifier(child.TakeListener());
  for (int64_t value : {int64_t{4711}, int64_t{0x555555000000}}) {  // e.g. brk()'s old break
    ASSERT_TRUE(child.Call());
    ASSERT_TRUE(Pending(notifier.fd()));
    seccomp_notif request{};
    ASSERT_EQ(notifier.Receive(&request), Notifier::RecvResult::kNotification);
    ASSERT_TRUE(notifier.Respond(Answer(request.id, value, 0, 0)).ok());
    std::optional<CallResult> r = child.Result();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->value, value);
    EXPECT_EQ(r->error, 0);
  }
}

TEST_F(SeccompNotifierTest, EachOfTwoWaitingCallsGetsItsOwnAnswer) {
  TrappedChild child;
  SeccompNotifier notifier(child.TakeListener());
  const pid_t caller = child.ForkCaller();
  ASSERT_GT(caller, 0);
  ASSERT_TRUE(Pending(notifier.fd()));  // the grandchild's call waits
  ASSERT_TRUE(child.Call());
  seccomp_notif first{}, second{};
  ASSERT_EQ(notifier.Receive(&first), Notifier::RecvResult::kNotification);
  ASSERT_TRUE(Pending(notifier.fd()));
  ASSERT_EQ(notifier.Receive(&second), Notifier::RecvResult::kNotification);
  EXPECT_NE(first.id, second.id);
  EXPECT_EQ(static_cast<pid_t>(first.pid), caller);
  EXPECT_EQ(static_cast<pid_t>(second.pid), child.pid());
  EXPECT_TRUE(notifier.IdValid(first.id));
  EXPECT_TRUE(notifier.IdValid(second.id));
  // Answered in the other order.
  ASSERT_TRUE(notifier.Respond(Answer(second.id, 7, 0, 0)).ok());
  ASSERT_TRUE(notifier.Respond(Answer(first.id, 0, -EACCES, 0)).ok());
  std::optional<CallResult> r = child.Result();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->value, 7);
  EXPECT_EQ(child.ReapCaller(), EACCES);
}

TEST_F(SeccompNotifierTest, IdValidTurnsFalseWhenTheCallerDiesAndAnsweringItIsNoError) {
  TrappedChild child;
  SeccompNotifier notifier(child.TakeListener());
  const pid_t caller = child.ForkCaller();
  ASSERT_GT(caller, 0);
  ASSERT_TRUE(Pending(notifier.fd()));
  seccomp_notif request{};
  ASSERT_EQ(notifier.Receive(&request), Notifier::RecvResult::kNotification);
  ASSERT_TRUE(notifier.IdValid(request.id));
  ASSERT_EQ(::kill(caller, SIGKILL), 0);
  EXPECT_EQ(child.ReapCaller(), -1);  // killed, its call never returned
  EXPECT_FALSE(notifier.IdValid(request.id));
  EXPECT_TRUE(notifier.Respond(Answer(request.id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE)).ok());
  // The filter and its fd go on working for the child.
  ASSERT_TRUE(child.Call());
  ASSERT_TRUE(Pending(notifier.fd()));
  ASSERT_EQ(notifier.Receive(&request), Notifier::RecvResult::kNotification);
  EXPECT_EQ(static_cast<pid_t>(request.pid), child.pid());
  ASSERT_TRUE(notifier.Respond(Answer(request.id, 1, 0, 0)).ok());
  ASSERT_TRUE(child.Result().has_value());
}

TEST_F(SeccompNotifierTest, AnAnswerTheKernelRejectsIsAnErrorAndTheCallStillWaits) {
  TrappedChild child;
  SeccompNotifier notifier(child.TakeListener());
  ASSERT_TRUE(child.Call());
  ASSERT_TRUE(Pending(notifier.fd()));
  seccomp_notif request{};
  ASSERT_EQ(notifier.Receive(&request), Notifier::RecvResult::kNotification);
  // CONTINUE with an errno is contradictory: EINVAL.
  Status bad = notifier.Respond(Answer(request.id, 0, -EPERM, SECCOMP_USER_NOTIF_FLAG_CONTINUE));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.message(), std::string("SECCOMP_IOCTL_NOTIF_SEND: ") + std::strerror(EINVAL));
  EXPECT_TRUE(notifier.IdValid(request.id));
  EXPECT_FALSE(child.Result(50).has_value());
  ASSERT_TRUE(notifier.Respond(Answer(request.id, 0, -EPERM, 0)).ok());
  std::optional<CallResult> r = child.Result();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error, EPERM);
}

TEST_F(SeccompNotifierTest, ReceiveReportsAHangUpOnceTheFilterHasNoTaskLeft) {
  TrappedChild child;
  SeccompNotifier notifier(child.TakeListener());
  child.Exit();
  Received r = ReceiveInThread(notifier, std::chrono::seconds(5));
  EXPECT_TRUE(r.in_time);
  EXPECT_EQ(r.result, Notifier::RecvResult::kHangup);
}

TEST_F(SeccompNotifierTest, ABlockedReceiveReturnsAHangUpWhenTheLastTaskLeaves) {
  TrappedChild child;
  SeccompNotifier notifier(child.TakeListener());
  Received r = ReceiveInThread(notifier, std::chrono::seconds(5), [&] { child.Exit(); });
  EXPECT_TRUE(r.in_time) << "a blocked Receive() did not notice the hang-up";
  EXPECT_EQ(r.result, Notifier::RecvResult::kHangup);
}

TEST_F(SeccompNotifierTest, ACallerKilledBeforeItsCallIsReceivedIsARetryNotAHangUp) {
  TrappedChild child;
  SeccompNotifier notifier(child.TakeListener());
  const pid_t caller = child.ForkCaller();
  ASSERT_GT(caller, 0);
  ASSERT_TRUE(Pending(notifier.fd()));
  ASSERT_EQ(::kill(caller, SIGKILL), 0);
  EXPECT_EQ(child.ReapCaller(), -1);
  // The filter still has the child: its notifications must keep coming.
  Received r = ReceiveInThread(notifier, std::chrono::seconds(5));
  EXPECT_EQ(r.result, Notifier::RecvResult::kRetry);
  // Without SYNC_WAKE_UP a poll() comes first, which waits for a new call.
  if (notifier.sync_wake_up()) {
    EXPECT_TRUE(r.in_time) << "RECV of a withdrawn call did not return by itself";
  }
  ASSERT_TRUE(child.Call());
  ASSERT_TRUE(Pending(notifier.fd()));
  seccomp_notif request{};
  ASSERT_EQ(notifier.Receive(&request), Notifier::RecvResult::kNotification);
  EXPECT_EQ(static_cast<pid_t>(request.pid), child.pid());
  ASSERT_TRUE(notifier.Respond(Answer(request.id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE)).ok());
  ASSERT_TRUE(child.Result().has_value());
}

TEST_F(SeccompNotifierTest, InterruptMakesABlockedReceiveReturnRetry) {
  TrappedChild child;
  SeccompNotifier notifier(child.TakeListener());
  notifier.Interrupt();  // nobody receives yet: nothing to interrupt, nothing breaks
  std::atomic<bool> done{false};
  Notifier::RecvResult result = Notifier::RecvResult::kError;
  std::thread receiver([&] {
    seccomp_notif request{};
    result = notifier.Receive(&request);
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(done);  // nothing to receive: it blocks
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done && std::chrono::steady_clock::now() < deadline) {
    notifier.Interrupt();  // may have to be repeated (a signal just before blocking is lost)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const bool returned = done;
  if (!returned) child.Exit();  // unblock it (hang-up) so that the thread can be joined
  receiver.join();
  ASSERT_TRUE(returned);
  EXPECT_EQ(result, Notifier::RecvResult::kRetry);
  // Interrupted, not broken: the next call is received as usual.
  ASSERT_TRUE(child.Call());
  ASSERT_TRUE(Pending(notifier.fd()));
  seccomp_notif request{};
  ASSERT_EQ(notifier.Receive(&request), Notifier::RecvResult::kNotification);
  ASSERT_TRUE(notifier.Respond(Answer(request.id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE)).ok());
  ASSERT_TRUE(child.Result().has_value());
}

TEST_F(SeccompNotifierTest, SyncWakeUpIsOnWhereTheKernelHasIt) {
  TrappedChild child;
  SeccompNotifier notifier(child.TakeListener());
  if (KernelAtLeast(6, 6)) {
    EXPECT_TRUE(notifier.sync_wake_up());
  } else {
    // Older kernels may have it backported; either way Receive() must work.
    ASSERT_TRUE(child.Call());
    ASSERT_TRUE(Pending(notifier.fd()));
    seccomp_notif request{};
    ASSERT_EQ(notifier.Receive(&request), Notifier::RecvResult::kNotification);
    ASSERT_TRUE(notifier.Respond(Answer(request.id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE)).ok());
  }
}

TEST_F(SeccompNotifierTest, DestroyingTheNotifierClosesTheFdAndFailsWaitingCallsWithEnosys) {
  TrappedChild child;
  auto notifier = std::make_unique<SeccompNotifier>(child.TakeListener());
  const int fd = notifier->fd();
  ASSERT_TRUE(child.Call());
  ASSERT_TRUE(Pending(fd));
  notifier.reset();
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
  // Nobody holds the listener any more: the kernel fails the trapped calls.
  std::optional<CallResult> waiting = child.Result();
  ASSERT_TRUE(waiting.has_value());
  EXPECT_EQ(waiting->value, -1);
  EXPECT_EQ(waiting->error, ENOSYS);
  ASSERT_TRUE(child.Call());
  std::optional<CallResult> later = child.Result();
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(later->error, ENOSYS);
}

}  // namespace
}  // namespace ubc
