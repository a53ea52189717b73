#include "supervisor/state_persister.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "tests/unit/test_support.h"

namespace ubc {
namespace {

template <typename Pred>
bool Eventually(Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

class StatePersisterTest : public ::testing::Test {
 protected:
  PersistedState State() {
    std::lock_guard<std::mutex> lock(mu_);
    ++asked_;
    return state_;
  }
  void SetFailcnt(uint64_t failcnt) {
    std::lock_guard<std::mutex> lock(mu_);
    state_["c1"].failcnt = failcnt;
  }
  std::mutex mu_;
  PersistedState state_;
  int asked_ = 0;
  std::atomic<int> ticks_{0};
};

TEST_F(StatePersisterTest, WritesSoonAfterAWakeAndOnlyWhenChanged) {
  TempDir dir("ubc-persister-test");
  const std::string path = dir.Path("state.json").string();
  StatePersister p(
      path, [this] { return State(); }, [this] { ++ticks_; });
  p.Start();
  SetFailcnt(3);
  p.WakeSoon();
  ASSERT_TRUE(Eventually([&] { return std::filesystem::exists(path); }));
  Result<PersistedState> read = ParsePersistedState(ReadFileForTest(path), path);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ((*read)["c1"].failcnt, 3u);
  struct stat first {};
  ASSERT_EQ(::stat(path.c_str(), &first), 0);
  EXPECT_EQ(first.st_mode & 0777, 0600u);
  // Unchanged: the file is not replaced (a new inode would show a rename).
  ASSERT_TRUE(p.PersistNow().ok());
  struct stat second {};
  ASSERT_EQ(::stat(path.c_str(), &second), 0);
  EXPECT_EQ(first.st_ino, second.st_ino);
  p.Stop();
}

TEST_F(StatePersisterTest, StopWritesOneLastTime) {
  TempDir dir("ubc-persister-test");
  const std::string path = dir.Path("state.json").string();
  {
    StatePersister p(
        path, [this] { return State(); }, nullptr);
    p.Start();
    SetFailcnt(9);
    p.Stop();
  }
  Result<PersistedState> read = ParsePersistedState(ReadFileForTest(path), path);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ((*read)["c1"].failcnt, 9u);
}

TEST_F(StatePersisterTest, TicksEverySecondWithoutAFile) {
  StatePersister p(
      "", [this] { return State(); }, [this] { ++ticks_; });
  p.Start();
  ASSERT_TRUE(Eventually([&] { return ticks_.load() >= 1; }));
  EXPECT_TRUE(p.PersistNow().ok());
  p.Stop();
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(asked_, 0);  // no file: the state is never even asked for
}

TEST_F(StatePersisterTest, AWriteThatFailsLeavesTheOldFileAndSaysWhy) {
  TempDir dir("ubc-persister-test");
  const std::string path = dir.Path("missing-dir/state.json").string();
  StatePersister p(
      path, [this] { return State(); }, nullptr);
  SetFailcnt(1);
  Status s = p.PersistNow();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("missing-dir"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace ubc
