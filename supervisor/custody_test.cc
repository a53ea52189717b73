#include "supervisor/custody.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "supervisor/unix_socket.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

using std::chrono::milliseconds;

// SetUpCustody() starts `/proc/self/exe --fd-store --config FILE`; in this
// binary that comes here, and does what ubcd's main does with it. A config
// that cannot be loaded ends it with 2, as it ends ubcd.
int RunFdStoreLikeUbcd(int argc, char** argv) {
  if (argc != 4 || std::string(argv[2]) != "--config") return 3;
  Result<SupervisorConfig> config = LoadSupervisorConfigFile(argv[3]);
  if (!config.ok()) return 2;
  return RunFdStore(FdStorePath(*config));
}

// The pid of the process listening at `path` (-1 when none): the kernel
// records the listener's credentials for every connection to it.
pid_t ListenerPid(const std::string& path) {
  Result<UniqueFd> c = ConnectUnixSocket(path, SOCK_SEQPACKET);
  if (!c.ok()) return -1;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(c->get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
  return cred.pid;
}

bool Gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// A store this test made ubcd start: detached (its parent left), so it is ours
// to reap only because main() made this process a child subreaper. Stopped and
// reaped on destruction.
class DetachedStore {
 public:
  explicit DetachedStore(pid_t pid) : pid_(pid) {}
  ~DetachedStore() { Stop(SIGTERM); }
  DetachedStore(const DetachedStore&) = delete;
  DetachedStore& operator=(const DetachedStore&) = delete;
  pid_t pid() const { return pid_; }
  void Stop(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    if (::waitpid(pid_, nullptr, 0) != pid_) {
      // Not our child after all: wait for it to go.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!Gone(pid_) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(milliseconds(10));
      }
    }
    pid_ = -1;
  }

 private:
  pid_t pid_;
};

// A store forked by the test itself (RunFdStore in a child), as if an earlier
// ubcd had started it.
class StoreProcess {
 public:
  explicit StoreProcess(const std::string& path) {
    pid_ = ::fork();
    if (pid_ == 0) ::_exit(RunFdStore(path));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (ListenerPid(path) != pid_ && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(5));
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

 private:
  pid_t pid_ = -1;
};

std::string ParentPidLine(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("PPid:", 0) == 0) return line;
  }
  return "";
}

class CustodyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    UBC_REQUIRE_ROOT();
    state_dir_ = dir_.Path("state").string();
    config_path_ = dir_.Write("ubcd.json", R"({"state_dir": ")" + state_dir_ + R"("})").string();
    Result<SupervisorConfig> config = LoadSupervisorConfigFile(config_path_);
    ASSERT_TRUE(config.ok()) << config.status().message();
    config_ = *config;
  }

  TempDir dir_{"ubc-custody-test"};
  std::string state_dir_;
  std::string config_path_;
  SupervisorConfig config_;
};

TEST_F(CustodyTest, FdStorePathIsTheSocketInTheStateDir) {
  EXPECT_EQ(FdStorePath(config_), state_dir_ + "/fdstore.sock");
}

TEST_F(CustodyTest, SetUpMakesTheStateDirMapsTheSlotsAndStartsADetachedStore) {
  Custody custody = SetUpCustody(config_, config_path_);
  DetachedStore started(ListenerPid(FdStorePath(config_)));
  struct stat st {};
  ASSERT_EQ(::stat(state_dir_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(custody.state_path, state_dir_ + "/state.json");
  ASSERT_NE(custody.slots, nullptr);
  ASSERT_EQ(::stat((state_dir_ + "/inflight").c_str(), &st), 0);
  EXPECT_EQ(static_cast<size_t>(st.st_size), sizeof(InflightSlot) * InflightSlots::kSlots);
  ASSERT_NE(custody.store, nullptr);
  ASSERT_EQ(custody.process_store, custody.store.get());
  EXPECT_EQ(custody.process_store->socket_path(), FdStorePath(config_));
  EXPECT_TRUE(custody.store->Alive());
  // Its own process, in its own session: a kill of ubcd's process group or a
  // crash of ubcd does not take it down.
  ASSERT_GT(started.pid(), 0);
  EXPECT_NE(started.pid(), ::getpid());
  EXPECT_NE(::getsid(started.pid()), ::getsid(0));
  // Its parent left at once: it is nobody's child but the subreaper's.
  EXPECT_EQ(ParentPidLine(started.pid()), "PPid:\t" + std::to_string(::getpid()));
  char link[64] = {};
  const std::string stdin_path = "/proc/" + std::to_string(started.pid()) + "/fd/0";
  ASSERT_GT(::readlink(stdin_path.c_str(), link, sizeof link - 1), 0);
  EXPECT_STREQ(link, "/dev/null");
}

TEST_F(CustodyTest, TheStartedStoreKeepsNoFdOfUbcdOpen) {
  // Not close-on-exec on purpose: only the store's close_range() closes it.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  Custody custody = SetUpCustody(config_, config_path_);
  DetachedStore started(ListenerPid(FdStorePath(config_)));
  ASSERT_NE(custody.store, nullptr);
  ASSERT_GT(started.pid(), 0);
  write_end.reset();
  pollfd p{read_end.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  EXPECT_NE(p.revents & POLLHUP, 0) << "the store holds a copy of ubcd's pipe";
}

TEST_F(CustodyTest, AStoreThatAlreadyAnswersIsUsedAndNoOtherStarted) {
  ASSERT_EQ(::mkdir(state_dir_.c_str(), 0700), 0);
  StoreProcess running(FdStorePath(config_));
  ASSERT_EQ(ListenerPid(FdStorePath(config_)), running.pid());
  Custody custody = SetUpCustody(config_, config_path_);
  ASSERT_NE(custody.store, nullptr);
  EXPECT_TRUE(custody.store->Alive());
  EXPECT_EQ(ListenerPid(FdStorePath(config_)), running.pid());
  ASSERT_NE(custody.process_store, nullptr);
  EXPECT_TRUE(EnsureFdStore(*custody.process_store, config_path_));
  EXPECT_EQ(ListenerPid(FdStorePath(config_)), running.pid());
}

TEST_F(CustodyTest, EnsureFdStoreStartsANewStoreWhenTheOldOneIsGone) {
  Custody custody = SetUpCustody(config_, config_path_);
  ASSERT_NE(custody.store, nullptr);
  DetachedStore first(ListenerPid(FdStorePath(config_)));
  ASSERT_GT(first.pid(), 0);
  const uint64_t generation = custody.store->generation();
  first.Stop(SIGKILL);  // a crash: the socket file stays behind
  EXPECT_FALSE(custody.store->Alive());
  ASSERT_NE(custody.process_store, nullptr);
  ASSERT_TRUE(EnsureFdStore(*custody.process_store, config_path_));
  DetachedStore second(ListenerPid(FdStorePath(config_)));
  ASSERT_GT(second.pid(), 0);
  EXPECT_TRUE(custody.store->Alive());
  EXPECT_GT(custody.store->generation(), generation);  // FdCustody will stock it again
}

TEST_F(CustodyTest, WithoutAStateDirUbcdRunsWithoutRestartProtection) {
  config_.state_dir = dir_.Path("missing/state").string();  // its parent does not exist
  Custody custody = SetUpCustody(config_, config_path_);
  EXPECT_EQ(custody.store, nullptr);
  EXPECT_EQ(custody.slots, nullptr);
  EXPECT_EQ(custody.state_path, "");
  EXPECT_FALSE(std::filesystem::exists(config_.state_dir));
  int status = 0;
  EXPECT_EQ(::waitpid(-1, &status, WNOHANG), -1) << "a store was started";
}

TEST_F(CustodyTest, SlotsThatCannotBeMappedLeaveTheStoreAndTheStateFileOn) {
  ASSERT_EQ(::mkdir(state_dir_.c_str(), 0700), 0);
  const std::filesystem::path target = dir_.Write("elsewhere", "do not touch");
  std::filesystem::create_symlink(target, state_dir_ + "/inflight");
  Custody custody = SetUpCustody(config_, config_path_);
  DetachedStore started(ListenerPid(FdStorePath(config_)));
  EXPECT_EQ(custody.slots, nullptr);
  EXPECT_EQ(ReadFileForTest(target), "do not touch");
  EXPECT_EQ(custody.state_path, state_dir_ + "/state.json");
  ASSERT_NE(custody.store, nullptr);
  EXPECT_TRUE(custody.store->Alive());
}

TEST_F(CustodyTest, AStoreThatCannotStartLeavesUbcdWithoutOneAfterAFewSeconds) {
  const auto start = std::chrono::steady_clock::now();
  // The store started with this config path cannot load it and exits.
  Custody custody = SetUpCustody(config_, dir_.Path("missing.json").string());
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(custody.store, nullptr);
  EXPECT_NE(custody.slots, nullptr);
  EXPECT_EQ(custody.state_path, state_dir_ + "/state.json");
  EXPECT_GE(took, milliseconds(2900));  // it waited for one to answer
  EXPECT_LT(took, milliseconds(6000));
  // The store that failed came to this subreaper; it exited with 2.
  int status = 0;
  const pid_t reaped = ::waitpid(-1, &status, WNOHANG);
  ASSERT_GT(reaped, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

TEST_F(CustodyTest, UnderSystemdWithItsStoreNoStoreProcessIsStarted) {
  ::setenv("UBCD_FD_CUSTODY", "systemd", 1);
  ::setenv("NOTIFY_SOCKET", dir_.Path("notify.sock").c_str(), 1);
  Custody custody = SetUpCustody(config_, config_path_);
  ::unsetenv("UBCD_FD_CUSTODY");
  ::unsetenv("NOTIFY_SOCKET");
  ASSERT_NE(custody.store, nullptr);
  EXPECT_EQ(custody.process_store, nullptr);
  EXPECT_EQ(custody.store->Describe(), "systemd's fd store");
  EXPECT_FALSE(std::filesystem::exists(FdStorePath(config_)));
  EXPECT_TRUE(std::filesystem::is_directory(state_dir_ + "/systemd-fds"));
}

}  // namespace
}  // namespace ubc

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--fd-store") return ubc::RunFdStoreLikeUbcd(argc, argv);
  // Stores started by SetUpCustody() leave their parent and would go to init:
  // as a subreaper this process gets them, so that every test reaps its own.
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    std::fprintf(stderr, "PR_SET_CHILD_SUBREAPER: %s\n", std::strerror(errno));
    return 1;
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
