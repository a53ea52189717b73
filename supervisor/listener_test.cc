#include "supervisor/listener.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "supervisor/seccomp_notifier.h"
#include "supervisor/unix_socket.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

// Sends `data` with `fds` in SCM_RIGHTS (with its first bytes); false on error.
bool SendWithFds(int sock, const std::string& data, const std::vector<int>& fds) {
  iovec iov{const_cast<char*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<cmsghdr> control(CMSG_SPACE(sizeof(int) * fds.size()) / sizeof(cmsghdr) + 1);
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* h = CMSG_FIRSTHDR(&msg);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(h), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return false;
  for (size_t off = static_cast<size_t>(n); off < data.size();) {
    n = ::send(sock, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// What runc sends: compact JSON naming the SCM_RIGHTS fds in order.
std::string StateMessage(const std::string& id,
                         const std::vector<std::string>& fd_names = {"seccompFd"}) {
  std::string names;
  for (const std::string& n : fd_names) names += (names.empty() ? "\"" : ",\"") + n + "\"";
  return R"({"ociVersion":"1.0.2-dev","fds":[)" + names +
         R"(],"pid":4242,"metadata":"m","state":{"ociVersion":"1.0.2-dev","id":")" + id +
         R"(","status":"creating","pid":4242,"bundle":"/b","annotations":{"ubc.privvmpages":"64M"}}})";
}

// True when the peer of `fd` closed its end within `timeout_ms`.
bool PeerClosed(int fd, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count()))) <= 0) return false;
    char buf[256];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return true;
  }
}

// A pipe whose write end we hand to the listener: once every copy of the
// write end is closed, the read end reports POLLHUP.
struct Pipe {
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read_end = UniqueFd(fds[0]);
    write_end = UniqueFd(fds[1]);
  }
  // Drops our write end and waits until no other copy is open.
  bool OtherWriteEndsClose(int timeout_ms) {
    write_end.reset();
    pollfd p{read_end.get(), POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLHUP) != 0;
  }
  UniqueFd read_end, write_end;
};

// A forked child with a seccomp filter that traps getppid() to a user-notify
// listener; the listener fd comes to the parent over a socketpair. The child
// makes no call of its own: here it only has to keep the filter alive. Killed
// and reaped on destruction.
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
  ~TrappedChild() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  TrappedChild(const TrappedChild&) = delete;
  TrappedChild& operator=(const TrappedChild&) = delete;

  int listener() const { return listener_.get(); }

 private:
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
    ::close(fd);
    char c;
    while (::recv(sock, &c, 1, 0) > 0) {
    }
    return 0;  // the parent hung up
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

// A new fd for the same open file (what runc would send).
int Dup(int fd) { return ::fcntl(fd, F_DUPFD_CLOEXEC, 0); }

// Same open file description (SCM_RIGHTS passes the file itself).
bool SameFile(int a, int b) {
  return ::syscall(SYS_kcmp, ::getpid(), ::getpid(), 0 /* KCMP_FILE */, a, b) == 0;
}

struct Delivery {
  ContainerProcessState state;
  UniqueFd fd;
  PeerInfo peer;
};

// A Listener on a socket in its own temp dir, its Run() in a thread; stopped
// and joined on destruction, whatever the test did.
class ListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UBC_REQUIRE_ROOT();
    path_ = dir_.Path("ubcd.sock").string();
    Result<std::unique_ptr<Listener>> l = Listener::Create(
        path_, [this](const ContainerProcessState& state, UniqueFd fd, const PeerInfo& peer) {
          {
            std::lock_guard<std::mutex> lock(mu_);
            if (state.id == throw_for_) throw std::runtime_error("no threads left");
            deliveries_.push_back(Delivery{state, std::move(fd), peer});
          }
          cv_.notify_all();
        });
    ASSERT_TRUE(l.ok()) << l.status().message();
    listener_ = std::move(l).value();
    thread_ = std::thread([this] { listener_->Run(); });
  }
  void TearDown() override {
    if (thread_.joinable()) {
      listener_->Stop();
      thread_.join();
    }
  }

  UniqueFd Connect() {
    Result<UniqueFd> fd = ConnectUnixSocket(path_, SOCK_STREAM);
    EXPECT_TRUE(fd.ok()) << fd.status().message();
    return fd.ok() ? std::move(fd).value() : UniqueFd();
  }
  bool WaitForDeliveries(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return deliveries_.size() >= n; });
  }
  size_t DeliveryCount() {
    std::lock_guard<std::mutex> lock(mu_);
    return deliveries_.size();
  }
  // A message on a connection of its own is delivered: the listener still
  // serves (used after each misbehaving peer).
  void ExpectStillServing(int seccomp_fd, const std::string& id) {
    const size_t before = DeliveryCount();
    UniqueFd c = Connect();
    ASSERT_TRUE(SendWithFds(c.get(), StateMessage(id), {seccomp_fd}));
    ASSERT_TRUE(WaitForDeliveries(before + 1));
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_EQ(deliveries_.back().state.id, id);
  }

  TempDir dir_{"ubc-listener-test"};
  std::string path_;
  std::string throw_for_;  // on_fd throws for this id (guarded by mu_)
  std::unique_ptr<Listener> listener_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Delivery> deliveries_;
};

TEST_F(ListenerTest, DeliversTheStateAndTheSeccompFdWithThePeersCredentials) {
  TrappedChild child;
  ASSERT_GE(child.listener(), 0);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  UniqueFd c = Connect();
  ASSERT_TRUE(SendWithFds(c.get(), StateMessage("c1"), {child.listener()}));
  ASSERT_TRUE(WaitForDeliveries(1));
  std::lock_guard<std::mutex> lock(mu_);
  const Delivery& d = deliveries_[0];
  EXPECT_EQ(d.state.id, "c1");
  EXPECT_EQ(d.state.status, "creating");
  EXPECT_EQ(d.state.pid, 4242);
  EXPECT_EQ(d.state.metadata, "m");
  EXPECT_EQ(d.state.annotations.at("ubc.privvmpages"), "64M");
  EXPECT_TRUE(SeccompNotifier::IsListenerFd(d.fd.get()));
  EXPECT_TRUE(SameFile(d.fd.get(), child.listener()));
  EXPECT_NE(d.fd.get(), child.listener());  // its own copy, owned by the callback
  EXPECT_NE(::fcntl(d.fd.get(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_EQ(d.peer.pid, ::getpid());
  EXPECT_EQ(d.peer.uid, 0u);
  EXPECT_EQ(d.peer.gid, ::getegid());
}

TEST_F(ListenerTest, ASplitMessageAndTwoInOneWriteAreAllDeliveredAndTheConnectionStaysOpen) {
  TrappedChild child;
  ASSERT_GE(child.listener(), 0);
  UniqueFd c = Connect();
  const std::string first = StateMessage("split");
  // The fd travels with the first bytes, as runc sends it.
  ASSERT_TRUE(SendWithFds(c.get(), first.substr(0, 17), {child.listener()}));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(DeliveryCount(), 0u);  // nothing before the message is complete
  ASSERT_TRUE(SendWithFds(c.get(), first.substr(17), {}));
  ASSERT_TRUE(WaitForDeliveries(1));
  ASSERT_TRUE(SendWithFds(c.get(), StateMessage("two") + "\n " + StateMessage("three"),
                          {child.listener(), child.listener()}));
  ASSERT_TRUE(WaitForDeliveries(3));
  // Runtimes keep the connection open: the listener does not hang up on it.
  EXPECT_FALSE(PeerClosed(c.get(), 100));
  ASSERT_TRUE(SendWithFds(c.get(), StateMessage("four"), {child.listener()}));
  ASSERT_TRUE(WaitForDeliveries(4));
  std::lock_guard<std::mutex> lock(mu_);
  ASSERT_EQ(deliveries_.size(), 4u);
  EXPECT_EQ(deliveries_[0].state.id, "split");
  EXPECT_EQ(deliveries_[1].state.id, "two");
  EXPECT_EQ(deliveries_[2].state.id, "three");
  EXPECT_EQ(deliveries_[3].state.id, "four");
  for (const Delivery& d : deliveries_) EXPECT_TRUE(SameFile(d.fd.get(), child.listener()));
}

TEST_F(ListenerTest, TakesTheFdNamedSeccompFdAndClosesTheOthers) {
  TrappedChild child;
  ASSERT_GE(child.listener(), 0);
  Pipe before, after;
  UniqueFd c = Connect();
  ASSERT_TRUE(SendWithFds(c.get(), StateMessage("c1", {"pidfd", "seccompFd", "extra"}),
                          {before.write_end.get(), child.listener(), after.write_end.get()}));
  ASSERT_TRUE(WaitForDeliveries(1));
  {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_TRUE(SameFile(deliveries_[0].fd.get(), child.listener()));
  }
  EXPECT_TRUE(before.OtherWriteEndsClose(5000));
  EXPECT_TRUE(after.OtherWriteEndsClose(5000));
  EXPECT_FALSE(PeerClosed(c.get(), 50));
}

TEST_F(ListenerTest, GarbageClosesOnlyItsOwnConnectionAndItsFds) {
  TrappedChild child;
  ASSERT_GE(child.listener(), 0);
  // A runtime half-way through its message when a bad peer shows up.
  UniqueFd good = Connect();
  const std::string message = StateMessage("good");
  ASSERT_TRUE(SendWithFds(good.get(), message.substr(0, 40), {child.listener()}));
  Pipe passed;
  UniqueFd bad = Connect();
  ASSERT_TRUE(SendWithFds(bad.get(), "GET / HTTP/1.0\r\n\r\n", {passed.write_end.get()}));
  EXPECT_TRUE(PeerClosed(bad.get(), 5000));
  EXPECT_TRUE(passed.OtherWriteEndsClose(5000));
  ASSERT_TRUE(SendWithFds(good.get(), message.substr(40), {}));
  ASSERT_TRUE(WaitForDeliveries(1));
  EXPECT_FALSE(PeerClosed(good.get(), 50));
  {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_EQ(deliveries_[0].state.id, "good");
  }
  ExpectStillServing(child.listener(), "after");
}

TEST_F(ListenerTest, AnOversizedMessageClosesItsConnectionWithoutHurtingOthers) {
  TrappedChild child;
  ASSERT_GE(child.listener(), 0);
  UniqueFd good = Connect();
  const std::string message = StateMessage("good");
  ASSERT_TRUE(SendWithFds(good.get(), message.substr(0, 40), {child.listener()}));
  Pipe passed;
  UniqueFd big = Connect();
  // Valid JSON so far, but its object never closes within the 1 MiB bound.
  std::string head = R"({"fds":["seccompFd"],"state":{"id":"big","status":"creating","x":")";
  ASSERT_TRUE(SendWithFds(big.get(), head, {passed.write_end.get()}));
  const std::string chunk(64 * 1024, 'a');
  bool refused = false;
  for (size_t sent = head.size(); sent < 2 * 1024 * 1024 && !refused; sent += chunk.size()) {
    refused = !SendWithFds(big.get(), chunk, {});  // EPIPE / ECONNRESET once it is closed
  }
  EXPECT_TRUE(refused || PeerClosed(big.get(), 5000));
  EXPECT_TRUE(passed.OtherWriteEndsClose(5000));
  ASSERT_TRUE(SendWithFds(good.get(), message.substr(40), {}));
  ASSERT_TRUE(WaitForDeliveries(1));
  ExpectStillServing(child.listener(), "after");
  std::lock_guard<std::mutex> lock(mu_);
  ASSERT_EQ(deliveries_.size(), 2u);
  EXPECT_EQ(deliveries_[0].state.id, "good");
}

TEST_F(ListenerTest, AMessageJustUnderTheBoundIsDelivered) {
  TrappedChild child;
  ASSERT_GE(child.listener(), 0);
  // Podman and Kubernetes annotations make messages of a few hundred KiB.
  std::string message = StateMessage("annotated");
  const std::string big_annotation =
      R"(,"org.example.big":")" + std::string(900 * 1024, 'x') + "\"";
  message.insert(
      message.find(R"("ubc.privvmpages")") + std::string(R"("ubc.privvmpages":"64M")").size(),
      big_annotation);
  UniqueFd c = Connect();
  ASSERT_TRUE(SendWithFds(c.get(), message, {child.listener()}));
  ASSERT_TRUE(WaitForDeliveries(1));
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(deliveries_[0].state.annotations.at("org.example.big").size(), 900u * 1024);
}

TEST_F(ListenerTest, MoreFdsThanAReadAcceptsCloseTheConnectionAndEveryFd) {
  TrappedChild child;
  ASSERT_GE(child.listener(), 0);
  Pipe passed;
  std::vector<UniqueFd> copies;
  std::vector<int> fds;
  for (int i = 0; i < 80; ++i) {  // the listener takes at most 64 per read
    copies.emplace_back(Dup(passed.write_end.get()));
    fds.push_back(copies.back().get());
  }
  UniqueFd c = Connect();
  ASSERT_TRUE(SendWithFds(c.get(), StateMessage("c1"), fds));
  copies.clear();
  EXPECT_TRUE(PeerClosed(c.get(), 5000));
  EXPECT_TRUE(passed.OtherWriteEndsClose(5000));
  EXPECT_EQ(DeliveryCount(), 0u);
  ExpectStillServing(child.listener(), "after");
}

TEST_F(ListenerTest, AMessageNamingMoreFdsThanArrivedClosesTheConnection) {
  TrappedChild child;
  ASSERT_GE(child.listener(), 0);
  UniqueFd c = Connect();
  ASSERT_TRUE(SendWithFds(c.get(), StateMessage("c1", {"seccompFd", "pidfd"}), {child.listener()}));
  EXPECT_TRUE(PeerClosed(c.get(), 5000));
  EXPECT_EQ(DeliveryCount(), 0u);
  ExpectStillServing(child.listener(), "after");
}

TEST_F(ListenerTest, ASeccompFdThatIsNoNotifyListenerIsRefusedAndClosed) {
  TrappedChild child;
  ASSERT_GE(child.listener(), 0);
  Pipe impostor;
  UniqueFd c = Connect();
  ASSERT_TRUE(SendWithFds(c.get(), StateMessage("c1"), {impostor.write_end.get()}));
  EXPECT_TRUE(PeerClosed(c.get(), 5000));
  EXPECT_TRUE(impostor.OtherWriteEndsClose(5000));
  EXPECT_EQ(DeliveryCount(), 0u);
  ExpectStillServing(child.listener(), "after");
}

TEST_F(ListenerTest, AnInvalidContainerStateClosesTheConnectionAndItsFds) {
  TrappedChild child;
  ASSERT_GE(child.listener(), 0);
  UniqueFd c = Connect();
  // Well framed, but state.id is missing.
  ASSERT_TRUE(SendWithFds(c.get(), R"({"fds":["seccompFd"],"state":{"status":"creating"}})",
                          {child.listener()}));
  EXPECT_TRUE(PeerClosed(c.get(), 5000));
  // An id that would name a file outside the state dir.
  UniqueFd d = Connect();
  ASSERT_TRUE(SendWithFds(d.get(), StateMessage("../etc"), {child.listener()}));
  EXPECT_TRUE(PeerClosed(d.get(), 5000));
  EXPECT_EQ(DeliveryCount(), 0u);
  ExpectStillServing(child.listener(), "after");
}

TEST_F(ListenerTest, APeerHangingUpInsideAMessageLosesOnlyThatMessage) {
  TrappedChild child;
  ASSERT_GE(child.listener(), 0);
  Pipe passed;
  {
    UniqueFd c = Connect();
    const std::string message = StateMessage("cut");
    ASSERT_TRUE(
        SendWithFds(c.get(), message.substr(0, message.size() / 2), {passed.write_end.get()}));
  }
  EXPECT_TRUE(passed.OtherWriteEndsClose(5000));
  EXPECT_EQ(DeliveryCount(), 0u);
  ExpectStillServing(child.listener(), "after");
}

TEST_F(ListenerTest, AnExceptionInTheCallbackCostsOnlyThatContainer) {
  TrappedChild child;
  ASSERT_GE(child.listener(), 0);
  {
    std::lock_guard<std::mutex> lock(mu_);
    throw_for_ = "boom";
  }
  UniqueFd c = Connect();
  ASSERT_TRUE(SendWithFds(c.get(), StateMessage("boom") + StateMessage("next"),
                          {child.listener(), child.listener()}));
  ASSERT_TRUE(WaitForDeliveries(1));
  EXPECT_FALSE(PeerClosed(c.get(), 50));
  std::lock_guard<std::mutex> lock(mu_);
  ASSERT_EQ(deliveries_.size(), 1u);
  EXPECT_EQ(deliveries_[0].state.id, "next");
}

TEST_F(ListenerTest, ConnectionsFromNonRootPeersAreRefused) {
  TrappedChild child;
  ASSERT_GE(child.listener(), 0);
  // Let uid 65534 reach the socket, so that only SO_PEERCRED stands in its way.
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0711), 0);
  ASSERT_EQ(::chmod(path_.c_str(), 0666), 0);
  const std::string message = StateMessage("intruder");
  const std::string path = path_;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Raw system calls only: the parent has threads.
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(20);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) ::_exit(21);
    // Even a real notify fd is not taken from this peer.
    if (!SendWithFds(s, message, {child.listener()})) ::_exit(0);  // already closed
    ::_exit(PeerClosed(s, 5000) ? 0 : 22);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "20: setuid, 21: connect, 22: connection stayed open";
  EXPECT_EQ(DeliveryCount(), 0u);
  ExpectStillServing(child.listener(), "after");
}

TEST_F(ListenerTest, StopEndsRunPromptlyWithConnectionsOpen) {
  UniqueFd idle = Connect();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto start = std::chrono::steady_clock::now();
  listener_->Stop();
  thread_.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

// Fillers of the fd table of the listener's process (below); closed by the
// SIGUSR2 handler (close() is async-signal-safe).
int g_fillers[256];
volatile sig_atomic_t g_filler_count = 0;

void CloseFillers(int) {
  for (sig_atomic_t i = 0; i < g_filler_count; ++i) ::close(g_fillers[i]);
  g_filler_count = 0;
}

// A forked process running a Listener with every fd of its table in use, as
// after an fd leak or a flood of containers. Killed and reaped on destruction.
class ListenerWithoutFds {
 public:
  explicit ListenerWithoutFds(const std::string& path) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe: " << std::strerror(errno);
      return;
    }
    UniqueFd read_end(fds[0]), write_end(fds[1]);
    pid_ = ::fork();
    if (pid_ < 0) {
      ADD_FAILURE() << "fork: " << std::strerror(errno);
      return;
    }
    if (pid_ == 0) {
      read_end.reset();
      const int report = write_end.get();
      Result<std::unique_ptr<Listener>> l =
          Listener::Create(path, [report](const ContainerProcessState&, UniqueFd, const PeerInfo&) {
            (void)!::write(report, "D", 1);  // delivered
          });
      if (!l.ok()) ::_exit(1);
      struct sigaction action {};
      action.sa_handler = CloseFillers;
      sigemptyset(&action.sa_mask);
      if (::sigaction(SIGUSR2, &action, nullptr) != 0) ::_exit(2);
      rlimit limit{64, 64};
      if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) ::_exit(3);
      for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) {
        if (g_filler_count == 256) ::_exit(4);
        g_fillers[g_filler_count] = fd;
        g_filler_count = g_filler_count + 1;
      }
      if (errno != EMFILE || ::write(report, "R", 1) != 1) ::_exit(5);
      (*l)->Run();
      ::_exit(0);
    }
    write_end.reset();
    report_ = std::move(read_end);
    if (Next(10000) != 'R') ADD_FAILURE() << "the listener process did not get ready";
  }
  ~ListenerWithoutFds() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  ListenerWithoutFds(const ListenerWithoutFds&) = delete;
  ListenerWithoutFds& operator=(const ListenerWithoutFds&) = delete;

  // Frees the fd table again.
  void FreeFds() { ::kill(pid_, SIGUSR2); }
  // The next report byte ('R' ready, 'D' delivered), 0 on timeout.
  char Next(int timeout_ms) {
    pollfd p{report_.get(), POLLIN, 0};
    char c = 0;
    if (::poll(&p, 1, timeout_ms) != 1 || ::read(report_.get(), &c, 1) != 1) return 0;
    return c;
  }

 private:
  pid_t pid_ = -1;
  UniqueFd report_;
};

TEST(ListenerLimitsTest, OutOfFdsAConnectionIsHungUpOnAtOnceAndServedAgainLater) {
  UBC_REQUIRE_ROOT();
  TempDir dir("ubc-listener-test");
  const std::string path = dir.Path("ubcd.sock").string();
  TrappedChild child;
  ASSERT_GE(child.listener(), 0);
  ListenerWithoutFds listener(path);
  for (int i = 0; i < 3; ++i) {
    // Left in the backlog, it would wake the listener's epoll forever.
    Result<UniqueFd> c = ConnectUnixSocket(path, SOCK_STREAM);
    ASSERT_TRUE(c.ok()) << c.status().message();
    EXPECT_TRUE(PeerClosed(c->get(), 2000)) << "connection " << i << " was left waiting";
  }
  listener.FreeFds();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  Result<UniqueFd> c = ConnectUnixSocket(path, SOCK_STREAM);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_TRUE(SendWithFds(c->get(), StateMessage("c1"), {child.listener()}));
  EXPECT_EQ(listener.Next(10000), 'D');
}

TEST(ListenerCreateTest, RefusesAPathThatIsNotASocketOrIsInUse) {
  UBC_REQUIRE_ROOT();
  TempDir dir("ubc-listener-test");
  const std::filesystem::path file = dir.Write("file.sock", "x");
  Result<std::unique_ptr<Listener>> on_file = Listener::Create(
      file.string(), [](const ContainerProcessState&, UniqueFd, const PeerInfo&) {});
  ASSERT_FALSE(on_file.ok());
  EXPECT_NE(on_file.status().message().find("is not a socket"), std::string::npos);
  const std::string path = dir.Path("ubcd.sock").string();
  auto ignore = [](const ContainerProcessState&, UniqueFd, const PeerInfo&) {};
  Result<std::unique_ptr<Listener>> first = Listener::Create(path, ignore);
  ASSERT_TRUE(first.ok()) << first.status().message();
  Result<std::unique_ptr<Listener>> second = Listener::Create(path, ignore);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("already listening"), std::string::npos);
}

}  // namespace
}  // namespace ubc
