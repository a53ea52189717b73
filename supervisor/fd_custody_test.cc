#include "supervisor/fd_custody.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "supervisor/fd_store.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

ContainerProcessState State() {
  ContainerProcessState s;
  s.id = "c1";
  s.status = "creating";
  s.pid = 10;
  s.state_pid = 11;
  s.annotations["ubc.privvmpages"] = "64M";
  s.annotations["io.podman.annotations.name"] = "web";
  s.annotations["org.example.big"] = std::string(10000, 'x');
  return s;
}

TEST(FdCustodyTest, MetaKeepsIdPidsAndOnlyTheAnnotationsThatCarryLimitsOrNames) {
  nlohmann::json meta = StoredFdMeta(State(), 99, 7);
  EXPECT_EQ(meta["id"], "c1");
  EXPECT_EQ(meta["pid"], 10);
  EXPECT_EQ(meta["state_pid"], 11);
  EXPECT_EQ(meta["runtime_pid"], 99);
  EXPECT_EQ(meta["slot"], 7);
  EXPECT_EQ(meta["annotations"]["ubc.privvmpages"], "64M");
  EXPECT_EQ(meta["annotations"]["io.podman.annotations.name"], "web");
  EXPECT_FALSE(meta["annotations"].contains("org.example.big"));
}

TEST(FdCustodyTest, WithoutAStoreEverythingIsANoOp) {
  FdCustody custody(nullptr, nullptr);
  EXPECT_FALSE(custody.enabled());
  EXPECT_EQ(custody.Deposit(State(), 1, 0, 0), "");
  custody.Unlist("");
  custody.Keep();
  std::map<std::string, nlohmann::json> meta;
  EXPECT_TRUE(custody.TakeStored(&meta).empty());
}

// A real fd store (`ubcd --fd-store`'s loop) in a child process.
class StoreProcess {
 public:
  explicit StoreProcess(const std::string& path) : path_(path) {
    pid_ = ::fork();
    if (pid_ == 0) ::_exit(RunFdStore(path));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!std::filesystem::exists(path) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  ~StoreProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }

 private:
  std::string path_;
  pid_t pid_ = -1;
};

TEST(FdCustodyTest, DepositsReachTheStoreWithUniqueKeysAndOnlyListenerFdsComeBack) {
  TempDir dir("ubc-custody-test");
  const std::string path = dir.Path("fdstore.sock").string();
  StoreProcess store(path);
  FdStoreClient client(path);
  ASSERT_TRUE(client.Alive());
  FdCustody custody(&client, nullptr);
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  const std::string a = custody.Deposit(State(), 99, 1, read_end.get());
  const std::string b = custody.Deposit(State(), 99, 2, read_end.get());
  EXPECT_FALSE(a.empty());
  EXPECT_NE(a, b);
  Result<std::vector<StoredFd>> held = client.List();
  ASSERT_TRUE(held.ok()) << held.status().message();
  ASSERT_EQ(held->size(), 2u);
  EXPECT_EQ((*held)[0].meta["id"], "c1");
  // A pipe is not a seccomp listener: a restarted ubcd would skip it.
  std::map<std::string, nlohmann::json> meta;
  EXPECT_TRUE(custody.TakeStored(&meta).empty());
  custody.Unlist(a);
  custody.Unlist(b);
  custody.Keep();  // the same store: nothing to hand again
}

}  // namespace
}  // namespace ubc
