#include "core/task_counter.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <set>

#include "core/syscall_abi.h"

namespace ubc {
namespace {

// The container's tasks as the kernel counts them, and which threads are
// still inside a call.
class FakeTasks : public MemberReader {
 public:
  Status Sample(MembersSample*) override { return Status::Ok(); }
  CallProgress Progress(int tid, int, const std::array<uint64_t, 6>&) override {
    return inside.count(tid) ? CallProgress::kInside : CallProgress::kDone;
  }
  int ThreadGroupOf(int tid) override { return tid; }
  void ExpectNewProcess(int) override {}
  bool ChildrenReaped(int) override { return false; }
  Result<uint64_t> Tasks() override {
    if (fail) return Status::Error("stat unreadable");
    return tasks;
  }
  uint64_t tasks = 0;
  std::set<int> inside;
  bool fail = false;
};

TrappedCall Clone(int tid) {
  TrappedCall c;
  c.tid = tid;
  c.nr = x86_64_nr::kClone;
  c.args = {0x3d0f00, 0, 0, 0, 0, 0};
  return c;
}

TEST(TaskCounter, UnlimitedUntilLimitsAreSet) {
  TaskCounter counter;
  EXPECT_FALSE(counter.limited());
  counter.SetLimits(10, 10);
  EXPECT_TRUE(counter.limited());
  counter.SetLimits(kUnlimitedPages, kUnlimitedPages);
  EXPECT_FALSE(counter.limited());
}

TEST(TaskCounter, AdmitsUpToTheLimitAndRefusesPastItWithEagain) {
  TaskCounter counter;
  counter.SetLimits(8, 8);
  FakeTasks k;
  k.tasks = 6;
  k.inside = {7};
  Decision ok;
  EXPECT_TRUE(counter.Charge(Clone(7), k, ok));
  EXPECT_FALSE(ok.refused);
  counter.CommitPending();
  // Thread 7 is still inside clone: its task is not in the kernel's count yet.
  Decision last;
  EXPECT_TRUE(counter.Charge(Clone(8), k, last));  // 6 + 1 in flight + 1 = 8
  counter.CommitPending();
  k.inside.insert(8);
  Decision over;
  EXPECT_FALSE(counter.Charge(Clone(9), k, over));
  EXPECT_TRUE(over.refused);
  EXPECT_EQ(over.action, Decision::Action::kFail);
  EXPECT_EQ(over.error_number, EAGAIN);
  EXPECT_STREQ(over.resource, "numproc");
  EXPECT_EQ(over.held_pages, 8u);
  EXPECT_EQ(over.bound_pages, 8u);
  EXPECT_EQ(counter.values().failcnt, 1u);
  EXPECT_EQ(counter.values().maxheld_pages, 6u);  // the kernel's count only
  // Both clones ran: the kernel counts their tasks, the reservations go.
  k.inside.clear();
  k.tasks = 8;
  Decision still_over;
  EXPECT_FALSE(counter.Charge(Clone(9), k, still_over));
  EXPECT_EQ(counter.in_flight_calls(), 0u);
  EXPECT_EQ(counter.values().maxheld_pages, 8u);
  // A task exits: room for one.
  k.tasks = 7;
  Decision again;
  EXPECT_TRUE(counter.Charge(Clone(9), k, again));
  EXPECT_EQ(counter.values().failcnt, 2u);
}

TEST(TaskCounter, TheBarrierIsNotTheBound) {
  TaskCounter counter;
  counter.SetLimits(2, 4);  // pids.max has one value: the limit
  FakeTasks k;
  k.tasks = 3;
  Decision d;
  EXPECT_TRUE(counter.Charge(Clone(1), k, d));
}

TEST(TaskCounter, ACancelledChargeLeavesNothingBehind) {
  TaskCounter counter;
  counter.SetLimits(4, 4);
  FakeTasks k;
  k.tasks = 3;
  k.inside = {5};
  Decision d;
  ASSERT_TRUE(counter.Charge(Clone(5), k, d));
  EXPECT_TRUE(counter.has_pending());
  counter.CancelPending();  // privvmpages refused the fork
  EXPECT_FALSE(counter.has_pending());
  EXPECT_EQ(counter.in_flight_calls(), 0u);
  Decision next;
  EXPECT_TRUE(counter.Charge(Clone(6), k, next));  // 3 + 1: the room is still there
  EXPECT_EQ(counter.values().failcnt, 0u);
}

TEST(TaskCounter, UnreadableTasksAreUndecidableNotRefused) {
  TaskCounter counter;
  counter.SetLimits(4, 4);
  FakeTasks k;
  k.fail = true;
  Decision d;
  EXPECT_FALSE(counter.Charge(Clone(1), k, d));
  EXPECT_TRUE(d.undecidable);
  EXPECT_FALSE(d.refused);
  EXPECT_EQ(counter.values().failcnt, 0u);
  EXPECT_NE(d.note.find("stat unreadable"), std::string::npos);
}

TEST(TaskCounter, RefreshRestoreAndRetire) {
  TaskCounter counter;
  counter.SetLimits(10, 10);
  counter.Restore(9, 3);
  FakeTasks k;
  k.tasks = 4;
  ASSERT_TRUE(counter.Refresh(k).ok());
  EXPECT_EQ(counter.values().held_pages, 4u);
  EXPECT_EQ(counter.values().maxheld_pages, 9u);
  EXPECT_EQ(counter.values().failcnt, 3u);
  counter.Retire();
  EXPECT_EQ(counter.values().held_pages, 0u);
  EXPECT_EQ(counter.values().failcnt, 3u);
}

}  // namespace
}  // namespace ubc
