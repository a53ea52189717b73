#include "supervisor/fd_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "supervisor/seccomp_notifier.h"
#include "supervisor/unix_socket.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

using std::chrono::milliseconds;

template <typename Pred>
bool Eventually(Pred done, milliseconds timeout = milliseconds(10000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

// A real fd store (`ubcd --fd-store`'s loop) in a forked child. Stop() sends
// a signal and reaps it; the destructor makes sure it is gone and reaped.
class StoreProcess {
 public:
  explicit StoreProcess(const std::string& path) {
    pid_ = ::fork();
    if (pid_ < 0) {
      ADD_FAILURE() << "fork: " << std::strerror(errno);
      return;
    }
    if (pid_ == 0) ::_exit(RunFdStore(path));
    // Listening once a connection is accepted (the store hangs up on it again).
    if (!Eventually([&] { return ConnectUnixSocket(path, SOCK_SEQPACKET).ok() || Exited(); })) {
      ADD_FAILURE() << "the fd store does not listen on " << path;
    }
  }
  ~StoreProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  StoreProcess(const StoreProcess&) = delete;
  StoreProcess& operator=(const StoreProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Signals the store and returns its exit code (-1: killed by a signal or
  // not gone within 10 s).
  int Stop(int signal = SIGTERM) {
    if (pid_ <= 0) return exit_code_;
    ::kill(pid_, signal);
    std::optional<int> code = WaitExit(milliseconds(10000));
    return code ? *code : -1;
  }
  // The exit code once the store has left by itself within `timeout`.
  std::optional<int> WaitExit(milliseconds timeout) {
    if (!Eventually([&] { return Exited(); }, timeout)) return std::nullopt;
    return exit_code_;
  }

 private:
  bool Exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    pid_ = -1;
    return true;
  }
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// A forked child with a seccomp filter that traps getppid() to a user-notify
// listener; the listener fd comes to the parent over a socketpair (the child
// closes its own copy). On command the child makes the trapped call and
// reports what it returned. Killed and reaped on destruction.
class TrappedChild {
 public:
  struct CallResult {
    long value = 0;
    int error = 0;
  };

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
  int listener() const { return listener_.get(); }
  void CloseListener() { listener_.reset(); }
  bool Call() {
    const char command = 'c';
    return ::send(control_.get(), &command, 1, MSG_NOSIGNAL) == 1;
  }
  std::optional<CallResult> Result(int timeout_ms = 10000) {
    pollfd p{control_.get(), POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return std::nullopt;
    CallResult r;
    if (::recv(control_.get(), &r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) {
      return std::nullopt;
    }
    return r;
  }
  void Kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }

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
    char command;
    while (::recv(sock, &command, 1, 0) == 1 && command == 'c') {
      CallResult r;
      r.value = ::syscall(SYS_getppid);
      r.error = r.value < 0 ? errno : 0;
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

// A pipe: its read end is a harmless fd to deposit (it never hangs up while
// we keep the write end). Once no copy of the read end is left anywhere, the
// write end reports POLLERR: that tells whether the store kept one.
struct Pipe {
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read_end = UniqueFd(fds[0]);
    write_end = UniqueFd(fds[1]);
  }
  UniqueFd read_end, write_end;
};

// Same open file description (SCM_RIGHTS passes the file itself).
bool SameFile(int a, int b) {
  return ::syscall(SYS_kcmp, ::getpid(), ::getpid(), 0 /* KCMP_FILE */, a, b) == 0;
}

// One packet with at most `fds` in SCM_RIGHTS, as a client other than
// FdStoreClient would send it.
bool SendPacket(int sock, const std::string& text, const std::vector<int>& fds) {
  iovec iov{const_cast<char*>(text.data()), text.size()};
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
  return ::sendmsg(sock, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}

// The next packet within `timeout_ms` ("" on timeout, "<closed>" on EOF).
std::string NextPacket(int sock, int timeout_ms) {
  pollfd p{sock, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) != 1) return "";
  char buf[4096];
  ssize_t n = ::recv(sock, buf, sizeof buf, 0);
  if (n <= 0) return "<closed>";
  return std::string(buf, static_cast<size_t>(n));
}

std::set<std::string> Keys(FdStoreClient& client) {
  std::set<std::string> keys;
  Result<std::vector<StoredFd>> held = client.List();
  EXPECT_TRUE(held.ok()) << held.status().message();
  if (held.ok()) {
    for (const StoredFd& s : *held) keys.insert(s.key);
  }
  return keys;
}

class FdStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { UBC_REQUIRE_ROOT(); }
  TempDir dir_{"ubc-fd-store-test"};
  const std::string path_ = dir_.Path("fdstore.sock").string();
};

TEST_F(FdStoreTest, AliveOnlyWhileAStoreAnswersAndGenerationCountsConnections) {
  FdStoreClient client(path_);
  EXPECT_EQ(client.socket_path(), path_);
  EXPECT_FALSE(client.Alive());
  EXPECT_EQ(client.generation(), 0u);
  {
    StoreProcess store(path_);
    EXPECT_TRUE(client.Alive());
    EXPECT_TRUE(client.Alive());
    EXPECT_EQ(client.generation(), 1u);  // one connection, kept
    struct stat st {};
    ASSERT_EQ(::stat(path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(store.Stop(), 0);
  }
  EXPECT_FALSE(client.Alive());
  StoreProcess restarted(path_);
  EXPECT_TRUE(client.Alive());
  EXPECT_EQ(client.generation(), 2u);  // a new store: it may hold nothing of ours
}

TEST_F(FdStoreTest, ListGivesBackTheSameFilesWithTheirMetaByKey) {
  StoreProcess store(path_);
  TrappedChild child;
  ASSERT_GE(child.listener(), 0);
  Pipe pipe;
  FdStoreClient client(path_);
  nlohmann::json meta = {{"id", "c1"}, {"slot", 3}, {"annotations", {{"ubc.privvmpages", "64M"}}}};
  ASSERT_TRUE(client.Put("run-1", meta, child.listener()).ok());
  ASSERT_TRUE(client.Put("run-0", {{"id", "other"}}, pipe.read_end.get()).ok());
  Result<std::vector<StoredFd>> held = client.List();
  ASSERT_TRUE(held.ok()) << held.status().message();
  ASSERT_EQ(held->size(), 2u);
  EXPECT_EQ((*held)[0].key, "run-0");
  EXPECT_EQ((*held)[0].meta["id"], "other");
  EXPECT_TRUE(SameFile((*held)[0].fd.get(), pipe.read_end.get()));
  EXPECT_EQ((*held)[1].key, "run-1");
  EXPECT_EQ((*held)[1].meta, meta);
  EXPECT_TRUE(SameFile((*held)[1].fd.get(), child.listener()));
  EXPECT_TRUE(SeccompNotifier::IsListenerFd((*held)[1].fd.get()));
  EXPECT_NE(::fcntl((*held)[1].fd.get(), F_GETFD) & FD_CLOEXEC, 0);
  // Listing hands out copies: the store still holds both.
  EXPECT_EQ(Keys(client), (std::set<std::string>{"run-0", "run-1"}));
}

TEST_F(FdStoreTest, APutUnderAKeyItHoldsReplacesThatEntry) {
  StoreProcess store(path_);
  Pipe first, second;
  FdStoreClient client(path_);
  ASSERT_TRUE(client.Put("k", {{"v", 1}}, first.read_end.get()).ok());
  ASSERT_TRUE(client.Put("k", {{"v", 2}}, second.read_end.get()).ok());
  Result<std::vector<StoredFd>> held = client.List();
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ((*held)[0].meta["v"], 2);
  EXPECT_TRUE(SameFile((*held)[0].fd.get(), second.read_end.get()));
}

TEST_F(FdStoreTest, APutWithoutAnFdOrAKeyIsRefused) {
  StoreProcess store(path_);
  Pipe pipe;
  FdStoreClient client(path_);
  Status no_fd = client.Put("k", {{"id", "c1"}}, -1);
  ASSERT_FALSE(no_fd.ok());
  EXPECT_EQ(no_fd.message(),
            R"(fd store refused k: {"ok":false,"error":"put needs a key and one fd"})");
  EXPECT_FALSE(client.Put("", {{"id", "c1"}}, pipe.read_end.get()).ok());
  EXPECT_TRUE(Keys(client).empty());
}

TEST_F(FdStoreTest, ATrappedCallWaitsWhileOnlyTheStoreHoldsTheFdAndANewClientAnswersIt) {
  StoreProcess store(path_);
  TrappedChild child;
  ASSERT_GE(child.listener(), 0);
  {
    FdStoreClient ubcd(path_);
    ASSERT_TRUE(ubcd.Put("c1-0", {{"id", "c1"}}, child.listener()).ok());
    child.CloseListener();
  }  // "ubcd" is gone: only the store holds the listener
  ASSERT_TRUE(child.Call());
  EXPECT_FALSE(child.Result(200).has_value());  // waits instead of failing with ENOSYS
  FdStoreClient restarted(path_);
  Result<std::vector<StoredFd>> held = restarted.List();
  ASSERT_TRUE(held.ok()) << held.status().message();
  ASSERT_EQ(held->size(), 1u);
  SeccompNotifier notifier(std::move((*held)[0].fd));
  pollfd p{notifier.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1);
  seccomp_notif request{};
  ASSERT_EQ(notifier.Receive(&request), Notifier::RecvResult::kNotification);
  EXPECT_EQ(static_cast<pid_t>(request.pid), child.pid());
  seccomp_notif_resp answer{};
  answer.id = request.id;
  answer.val = 42;
  ASSERT_TRUE(notifier.Respond(answer).ok());
  std::optional<TrappedChild::CallResult> r = child.Result();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->value, 42);
}

TEST_F(FdStoreTest, TheStoreDropsAnFdOnceItsFilterHasNoTaskLeftAndKeepsTheOthers) {
  StoreProcess store(path_);
  TrappedChild dying, living;
  ASSERT_GE(dying.listener(), 0);
  ASSERT_GE(living.listener(), 0);
  Pipe pipe;
  FdStoreClient client(path_);
  ASSERT_TRUE(client.Put("dying", {{"id", "a"}}, dying.listener()).ok());
  ASSERT_TRUE(client.Put("living", {{"id", "b"}}, living.listener()).ok());
  ASSERT_TRUE(client.Put("pipe", {{"id", "c"}}, pipe.read_end.get()).ok());
  EXPECT_EQ(Keys(client).size(), 3u);
  dying.Kill();  // the container is gone
  // Swept twice a second.
  EXPECT_TRUE(Eventually([&] { return Keys(client).count("dying") == 0; }, milliseconds(3000)));
  EXPECT_EQ(Keys(client), (std::set<std::string>{"living", "pipe"}));
}

TEST_F(FdStoreTest, OversizedPacketsAndPacketsWithSeveralFdsAreDroppedWithTheirFds) {
  StoreProcess store(path_);
  Result<UniqueFd> raw = ConnectUnixSocket(path_, SOCK_SEQPACKET);
  ASSERT_TRUE(raw.ok()) << raw.status().message();
  Pipe big, pair_a, pair_b, many;
  std::string oversized =
      R"({"op":"put","key":"big","meta":{"x":")" + std::string(70000, 'x') + "\"}}";
  ASSERT_TRUE(SendPacket(raw->get(), oversized, {big.read_end.get()}));
  ASSERT_TRUE(SendPacket(raw->get(), R"({"op":"put","key":"two"})",
                         {pair_a.read_end.get(), pair_b.read_end.get()}));
  std::vector<int> ten(10, many.read_end.get());
  ASSERT_TRUE(SendPacket(raw->get(), R"({"op":"put","key":"ten"})", ten));
  EXPECT_EQ(NextPacket(raw->get(), 300), "");  // no answer to any of them
  ASSERT_TRUE(SendPacket(raw->get(), R"({"op":"ping"})", {}));
  EXPECT_EQ(NextPacket(raw->get(), 5000), R"({"ok":true})");
  // Nothing was kept: the store holds no copy of any of those fds.
  FdStoreClient client(path_);
  EXPECT_TRUE(Keys(client).empty());
  for (Pipe* p : {&big, &pair_a, &pair_b, &many}) {
    // The store's copies are of the read ends: once ours is closed as well,
    // the write end sees EPOLLERR only if no reader is left anywhere.
    p->read_end.reset();
    pollfd pfd{p->write_end.get(), POLLOUT, 0};
    ASSERT_EQ(::poll(&pfd, 1, 5000), 1);
    EXPECT_NE(pfd.revents & POLLERR, 0) << "the store kept a copy of a refused fd";
  }
}

TEST_F(FdStoreTest, UnknownOpsAndGarbageAreAnsweredWithAnErrorAndChangeNothing) {
  StoreProcess store(path_);
  Result<UniqueFd> raw = ConnectUnixSocket(path_, SOCK_SEQPACKET);
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(SendPacket(raw->get(), R"({"op":"delete","key":"k"})", {}));
  EXPECT_EQ(NextPacket(raw->get(), 5000), R"({"ok":false,"error":"unknown op"})");
  ASSERT_TRUE(SendPacket(raw->get(), "\x01garbage{", {}));
  EXPECT_EQ(NextPacket(raw->get(), 5000), R"({"ok":false,"error":"unknown op"})");
  ASSERT_TRUE(SendPacket(raw->get(), R"(["op","list"])", {}));
  EXPECT_EQ(NextPacket(raw->get(), 5000), R"({"ok":false,"error":"unknown op"})");
  ASSERT_TRUE(SendPacket(raw->get(), R"({"op":"put","key":7})", {}));
  EXPECT_EQ(NextPacket(raw->get(), 5000), R"({"ok":false,"error":"put needs a key and one fd"})");
  ASSERT_TRUE(SendPacket(raw->get(), R"({"op":"list"})", {}));
  EXPECT_EQ(NextPacket(raw->get(), 5000), R"({"op":"end"})");
}

TEST_F(FdStoreTest, ClientsThatAreNotRootAreHungUpOn) {
  StoreProcess store(path_);
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0711), 0);
  ASSERT_EQ(::chmod(path_.c_str(), 0666), 0);  // only SO_PEERCRED stands in the way
  const std::string path = path_;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(20);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int s = ::socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) ::_exit(21);
    const char ping[] = R"({"op":"ping"})";
    (void)::send(s, ping, sizeof ping - 1, MSG_NOSIGNAL);
    pollfd p{s, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) ::_exit(22);
    char buf[64];
    ::_exit(::recv(s, buf, sizeof buf, 0) <= 0 ? 0 : 23);  // 23: it answered
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "20: setuid, 21: connect, 22: no hang-up, 23: answered";
  FdStoreClient root(path_);
  EXPECT_TRUE(root.Alive());
}

TEST_F(FdStoreTest, SigtermEndsTheStoreRemovesItsSocketAndReleasesTheFds) {
  StoreProcess store(path_);
  TrappedChild child;
  {
    FdStoreClient client(path_);
    ASSERT_TRUE(client.Put("c1-0", {{"id", "c1"}}, child.listener()).ok());
  }
  child.CloseListener();
  EXPECT_EQ(store.Stop(SIGTERM), 0);
  EXPECT_FALSE(std::filesystem::exists(path_));
  // Nobody holds the listener any more: the trapped call fails at once.
  ASSERT_TRUE(child.Call());
  std::optional<TrappedChild::CallResult> r = child.Result();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->value, -1);
  EXPECT_EQ(r->error, ENOSYS);
}

TEST_F(FdStoreTest, ItStaysWhileItHoldsFdsOrHasAClientAndLeavesWhenIdle) {
  StoreProcess store(path_);
  TrappedChild child;
  {
    FdStoreClient client(path_);
    ASSERT_TRUE(client.Put("c1-0", {{"id", "c1"}}, child.listener()).ok());
  }
  // No client, but an fd: ubcd crashed and the container's calls wait.
  EXPECT_FALSE(store.WaitExit(milliseconds(4000)).has_value());
  {
    FdStoreClient client(path_);
    EXPECT_EQ(Keys(client), (std::set<std::string>{"c1-0"}));
    child.Kill();  // the container goes: its fd is dropped
    EXPECT_TRUE(Eventually([&] { return Keys(client).empty(); }, milliseconds(3000)));
    // Nothing held, but a client connected: it stays.
    EXPECT_FALSE(store.WaitExit(milliseconds(3500)).has_value());
  }
  std::optional<int> code = store.WaitExit(milliseconds(6000));
  ASSERT_TRUE(code.has_value()) << "an idle store did not leave";
  EXPECT_EQ(*code, 0);
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(FdStoreTest, TheStoreRunsWithoutAnyCapability) {
  StoreProcess store(path_);
  std::ifstream status("/proc/" + std::to_string(store.pid()) + "/status");
  std::string line;
  int checked = 0;
  while (std::getline(status, line)) {
    for (const char* set : {"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"}) {
      if (line.rfind(set, 0) == 0) {
        EXPECT_EQ(line, std::string(set) + "\t0000000000000000");
        ++checked;
      }
    }
    if (line.rfind("NoNewPrivs:", 0) == 0) {
      EXPECT_EQ(line, "NoNewPrivs:\t1");
    }
  }
  EXPECT_EQ(checked, 5);
  FdStoreClient client(path_);
  EXPECT_TRUE(client.Alive());  // and it still serves
}

TEST_F(FdStoreTest, ClientCallsFromManyThreadsAreAllServed) {
  StoreProcess store(path_);
  Pipe pipe;
  FdStoreClient client(path_);
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (!client.Put(key, {{"id", key}}, pipe.read_end.get()).ok()) ++failed;
        if (i % 5 == 0 && !client.List().ok()) ++failed;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(Keys(client).size(), 100u);
  EXPECT_EQ(client.generation(), 1u);  // one shared connection throughout
}

TEST_F(FdStoreTest, ASecondStoreOnTheSamePathFailsAndTheFirstGoesOn) {
  StoreProcess store(path_);
  FdStoreClient client(path_);
  Pipe pipe;
  ASSERT_TRUE(client.Put("k", {}, pipe.read_end.get()).ok());
  pid_t second = ::fork();
  ASSERT_GE(second, 0);
  if (second == 0) ::_exit(RunFdStore(path_));
  int status = 0;
  ASSERT_EQ(::waitpid(second, &status, 0), second);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_TRUE(client.Alive());
  EXPECT_EQ(Keys(client), (std::set<std::string>{"k"}));
}

TEST_F(FdStoreTest, PutReconnectsOnceToARestartedStore) {
  Pipe pipe;
  FdStoreClient client(path_);
  auto first = std::make_unique<StoreProcess>(path_);
  ASSERT_TRUE(client.Put("a", {}, pipe.read_end.get()).ok());
  EXPECT_EQ(client.generation(), 1u);
  EXPECT_EQ(first->Stop(), 0);
  first.reset();
  Status none = client.Put("b", {}, pipe.read_end.get());
  EXPECT_FALSE(none.ok());
  EXPECT_FALSE(client.List().ok());
  StoreProcess second(path_);
  ASSERT_TRUE(client.Put("b", {}, pipe.read_end.get()).ok());
  EXPECT_EQ(client.generation(), 2u);
  EXPECT_EQ(Keys(client), (std::set<std::string>{"b"}));  // the new store holds only b
}

}  // namespace
}  // namespace ubc
