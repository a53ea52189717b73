#include "supervisor/inflight_slots.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "tests/unit/test_support.h"

namespace ubc {
namespace {

constexpr size_t kFileBytes = sizeof(InflightSlot) * InflightSlots::kSlots;

std::unique_ptr<InflightSlots> OpenOrFail(const std::string& path) {
  Result<std::unique_ptr<InflightSlots>> slots = InflightSlots::Open(path);
  EXPECT_TRUE(slots.ok()) << slots.status().message();
  return slots.ok() ? std::move(slots).value() : nullptr;
}

// What a notify thread writes after RECV.
void Record(InflightSlot& s, uint64_t id) {
  s.arch = 0xC000003E;
  s.tid = 4242;
  s.nr = 9;
  s.id = id;
  for (int i = 0; i < 6; ++i) s.args[i] = id * 10 + static_cast<uint64_t>(i);
  s.deciding.store(1, std::memory_order_release);
}

TEST(InflightSlotsTest, OpenCreatesAnOwnerOnlyFileHoldingEverySlot) {
  TempDir dir("ubc-inflight-test");
  const std::filesystem::path path = dir.Path("inflight");
  std::unique_ptr<InflightSlots> slots = OpenOrFail(path.string());
  ASSERT_NE(slots, nullptr);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(static_cast<size_t>(st.st_size), kFileBytes);
  // The last slot is inside the mapping.
  InflightSlot& last = slots->at(static_cast<int>(InflightSlots::kSlots - 1));
  Record(last, 99);
  EXPECT_EQ(last.id, 99u);
}

TEST(InflightSlotsTest, AcquireHandsOutTheLowestFreeSlotAndReleaseReturnsIt) {
  TempDir dir("ubc-inflight-test");
  std::unique_ptr<InflightSlots> slots = OpenOrFail(dir.Path("inflight").string());
  ASSERT_NE(slots, nullptr);
  EXPECT_EQ(slots->Acquire(), 0);
  EXPECT_EQ(slots->Acquire(), 1);
  EXPECT_EQ(slots->Acquire(), 2);
  slots->Release(1);
  EXPECT_EQ(slots->Acquire(), 1);
  EXPECT_EQ(slots->Acquire(), 3);
}

TEST(InflightSlotsTest, AnAcquiredSlotIsClearedOfItsPreviousOwnersCall) {
  TempDir dir("ubc-inflight-test");
  std::unique_ptr<InflightSlots> slots = OpenOrFail(dir.Path("inflight").string());
  ASSERT_NE(slots, nullptr);
  const int index = slots->Acquire();
  ASSERT_EQ(index, 0);
  Record(slots->at(index), 7);
  slots->at(index).last_id = 6;
  slots->Release(index);
  ASSERT_EQ(slots->Acquire(), index);
  // A new fd's thread must not look as if it were deciding the old call.
  EXPECT_EQ(slots->at(index).deciding.load(), 0u);
  EXPECT_EQ(slots->at(index).id, 0u);
  EXPECT_EQ(slots->at(index).last_id, 0u);
}

TEST(InflightSlotsTest, TheContentsOutliveTheMappingAndAClaimedSlotIsNeverHandedOut) {
  TempDir dir("ubc-inflight-test");
  const std::string path = dir.Path("inflight").string();
  {
    std::unique_ptr<InflightSlots> before = OpenOrFail(path);
    ASSERT_NE(before, nullptr);
    for (int i = 0; i < 3; ++i) ASSERT_EQ(before->Acquire(), i);
    Record(before->at(1), 77);
    before->at(1).last_id = 76;
  }  // ubcd stops
  std::unique_ptr<InflightSlots> after = OpenOrFail(path);
  ASSERT_NE(after, nullptr);
  const InflightSlot& s = after->at(1);
  EXPECT_EQ(s.deciding.load(), 1u);
  EXPECT_EQ(s.id, 77u);
  EXPECT_EQ(s.last_id, 76u);
  EXPECT_EQ(s.tid, 4242);
  EXPECT_EQ(s.nr, 9);
  EXPECT_EQ(s.arch, 0xC000003Eu);
  EXPECT_EQ(s.args[5], 775u);
  // The recovered fd's slot (1) is claimed: kept as it is and never handed out.
  after->Claim(1);
  EXPECT_EQ(after->Acquire(), 0);
  EXPECT_EQ(after->Acquire(), 2);
  EXPECT_EQ(after->at(1).id, 77u);
}

TEST(InflightSlotsTest, WhatAKilledProcessWroteIsThereForTheNextOne) {
  TempDir dir("ubc-inflight-test");
  const std::string path = dir.Path("inflight").string();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Result<std::unique_ptr<InflightSlots>> slots = InflightSlots::Open(path);
    if (!slots.ok()) ::_exit(1);
    Record((*slots)->at(5), 4711);
    ::kill(::getpid(), SIGKILL);  // a crash: no unmapping, no destructor
    ::_exit(2);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child could not open the slots";
  std::unique_ptr<InflightSlots> slots = OpenOrFail(path);
  ASSERT_NE(slots, nullptr);
  EXPECT_EQ(slots->at(5).deciding.load(), 1u);
  EXPECT_EQ(slots->at(5).id, 4711u);
}

TEST(InflightSlotsTest, TwoMappingsOfOneFileSeeEachOthersWrites) {
  TempDir dir("ubc-inflight-test");
  const std::string path = dir.Path("inflight").string();
  std::unique_ptr<InflightSlots> a = OpenOrFail(path);
  std::unique_ptr<InflightSlots> b = OpenOrFail(path);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  Record(a->at(3), 12);
  EXPECT_EQ(b->at(3).id, 12u);
  EXPECT_EQ(b->at(3).deciding.load(std::memory_order_acquire), 1u);
}

TEST(InflightSlotsTest, AShortFileIsExtendedAndItsContentsKept) {
  TempDir dir("ubc-inflight-test");
  const std::string path = dir.Path("inflight").string();
  {
    std::unique_ptr<InflightSlots> slots = OpenOrFail(path);
    ASSERT_NE(slots, nullptr);
    Record(slots->at(0), 5);
  }
  std::filesystem::resize_file(path, sizeof(InflightSlot) * 4);  // e.g. an older, smaller file
  std::unique_ptr<InflightSlots> slots = OpenOrFail(path);
  ASSERT_NE(slots, nullptr);
  EXPECT_EQ(std::filesystem::file_size(path), kFileBytes);
  EXPECT_EQ(slots->at(0).id, 5u);
  EXPECT_EQ(slots->at(100).id, 0u);
}

TEST(InflightSlotsTest, WhenEverySlotIsTakenAcquireSaysSo) {
  TempDir dir("ubc-inflight-test");
  std::unique_ptr<InflightSlots> slots = OpenOrFail(dir.Path("inflight").string());
  ASSERT_NE(slots, nullptr);
  for (uint32_t i = 0; i < InflightSlots::kSlots; ++i) slots->Claim(static_cast<int>(i));
  EXPECT_EQ(slots->Acquire(), -1);
  slots->Release(40000);
  EXPECT_EQ(slots->Acquire(), 40000);
  EXPECT_EQ(slots->Acquire(), -1);
}

TEST(InflightSlotsTest, IndicesOutOfRangeAreIgnored) {
  TempDir dir("ubc-inflight-test");
  std::unique_ptr<InflightSlots> slots = OpenOrFail(dir.Path("inflight").string());
  ASSERT_NE(slots, nullptr);
  slots->Claim(-1);
  slots->Claim(static_cast<int>(InflightSlots::kSlots));
  slots->Release(-1);
  slots->Release(static_cast<int>(InflightSlots::kSlots));
  EXPECT_EQ(slots->Acquire(), 0);  // a slot from a corrupt meta (-1) claimed nothing
}

TEST(InflightSlotsTest, ConcurrentAcquiresNeverShareASlot) {
  TempDir dir("ubc-inflight-test");
  std::unique_ptr<InflightSlots> slots = OpenOrFail(dir.Path("inflight").string());
  ASSERT_NE(slots, nullptr);
  constexpr int kThreads = 8;
  constexpr int kEach = 200;
  std::mutex mu;
  std::vector<int> got;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::vector<int> mine;
      for (int i = 0; i < kEach; ++i) {
        mine.push_back(slots->Acquire());
        if (i % 3 == 0) {  // some fds close meanwhile
          slots->Release(mine.back());
          mine.pop_back();
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      got.insert(got.end(), mine.begin(), mine.end());
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<int> distinct(got.begin(), got.end());
  EXPECT_EQ(distinct.size(), got.size());
  EXPECT_EQ(distinct.count(-1), 0u);
}

TEST(InflightSlotsTest, OpenRefusesASymlinkAndNamesThePath) {
  TempDir dir("ubc-inflight-test");
  const std::filesystem::path target = dir.Write("elsewhere", "do not touch");
  const std::filesystem::path link = dir.Path("inflight");
  std::filesystem::create_symlink(target, link);
  Result<std::unique_ptr<InflightSlots>> slots = InflightSlots::Open(link.string());
  ASSERT_FALSE(slots.ok());
  EXPECT_EQ(slots.status().message().rfind("opening " + link.string() + ": ", 0), 0u)
      << slots.status().message();
  EXPECT_EQ(ReadFileForTest(target), "do not touch");
}

TEST(InflightSlotsTest, OpenFailsInAMissingDirectory) {
  TempDir dir("ubc-inflight-test");
  const std::string path = dir.Path("missing/inflight").string();
  Result<std::unique_ptr<InflightSlots>> slots = InflightSlots::Open(path);
  ASSERT_FALSE(slots.ok());
  EXPECT_EQ(slots.status().message().rfind("opening " + path + ": ", 0), 0u);
}

}  // namespace
}  // namespace ubc
