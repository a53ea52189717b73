#include "core/locked_counter.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <set>

#include "core/syscall_abi.h"

namespace ubc {
namespace {

// The container's locked memory as the kernel counts it, and which threads
// are still inside a call.
class FakeLocked : public MemberReader {
 public:
  Status Sample(MembersSample*) override { return Status::Ok(); }
  CallProgress Progress(int tid, int, const std::array<uint64_t, 6>&) override {
    return inside.count(tid) ? CallProgress::kInside : CallProgress::kDone;
  }
  int ThreadGroupOf(int tid) override { return tid; }
  void ExpectNewProcess(int) override {}
  bool ChildrenReaped(int) override { return false; }
  Result<uint64_t> LockedPages() override {
    if (fail) return Status::Error("status unreadable");
    return vm_locked_pages;
  }
  Result<ShmUsage> SharedMemory() override {
    if (no_namespace) return Status::Error("no IPC namespace");
    ShmUsage u;
    u.locked_pages = sysv_locked_pages;
    return u;
  }
  uint64_t vm_locked_pages = 0;
  uint64_t sysv_locked_pages = 0;
  std::set<int> inside;
  bool fail = false;
  bool no_namespace = false;
};

TrappedCall Mlock(int tid) {
  TrappedCall c;
  c.tid = tid;
  c.nr = x86_64_nr::kMlock;
  c.args = {0x10000, 4096, 0, 0, 0, 0};
  return c;
}

TEST(LockedCounter, UnlimitedUntilLimitsAreSet) {
  LockedCounter counter;
  EXPECT_FALSE(counter.limited());
  counter.SetLimits(100, 100);
  EXPECT_TRUE(counter.limited());
}

TEST(LockedCounter, AdmitsUpToTheBarrierAndRefusesPastItWithEnomem) {
  LockedCounter counter;
  counter.SetLimits(100, 120);
  FakeLocked k;
  k.vm_locked_pages = 30;
  k.sysv_locked_pages = 10;  // SHM_LOCK'd segments are held too
  k.inside = {7};
  Decision ok;
  EXPECT_TRUE(counter.Charge(Mlock(7), 60, false, k, ok));
  EXPECT_FALSE(ok.refused);
  counter.CommitPending();
  EXPECT_EQ(counter.in_flight_calls(), 1u);
  // Thread 7 is still inside mlock: its 60 pages count, so 1 more does not fit.
  Decision over;
  EXPECT_FALSE(counter.Charge(Mlock(8), 1, false, k, over));
  EXPECT_TRUE(over.refused);
  EXPECT_EQ(over.action, Decision::Action::kFail);
  EXPECT_EQ(over.error_number, ENOMEM);
  EXPECT_STREQ(over.resource, "lockedpages");
  EXPECT_EQ(over.held_pages, 100u);
  EXPECT_EQ(over.bound_pages, 100u);
  EXPECT_EQ(counter.values().failcnt, 1u);
  // maxheld follows the kernel's figure, not what was in flight.
  EXPECT_EQ(counter.values().maxheld_pages, 40u);
  // Thread 7's mlock ran: the kernel counts it now and the reservation goes.
  k.inside.clear();
  k.vm_locked_pages = 90;
  Decision fits;
  EXPECT_TRUE(counter.Charge(Mlock(8), 0, false, k, fits));
  EXPECT_EQ(counter.in_flight_calls(), 0u);
  EXPECT_EQ(counter.values().held_pages, 100u);
}

TEST(LockedCounter, MlockallCurrentRefusedReturnsZero) {
  LockedCounter counter;
  counter.SetLimits(10, 10);
  FakeLocked k;
  Decision d;
  EXPECT_FALSE(counter.Charge(Mlock(7), 11, true, k, d));
  EXPECT_TRUE(d.refused);
  EXPECT_EQ(d.action, Decision::Action::kReturn);
  EXPECT_EQ(d.return_value, 0u);
  EXPECT_EQ(counter.values().failcnt, 1u);
}

TEST(LockedCounter, CancelledChargeLeavesNothingBehind) {
  LockedCounter counter;
  counter.SetLimits(100, 100);
  FakeLocked k;
  k.inside = {7};
  Decision d;
  ASSERT_TRUE(counter.Charge(Mlock(7), 50, false, k, d));
  EXPECT_TRUE(counter.has_pending());
  counter.CancelPending();  // privvmpages refused the mapping
  EXPECT_FALSE(counter.has_pending());
  EXPECT_EQ(counter.in_flight_calls(), 0u);
  EXPECT_EQ(counter.values().failcnt, 0u);
  ASSERT_TRUE(counter.Refresh(k).ok());
  EXPECT_EQ(counter.values().held_pages, 0u);
  EXPECT_EQ(counter.values().maxheld_pages, 0u);
}

TEST(LockedCounter, UnreadableKernelFigureIsUndecidableNotARefusal) {
  LockedCounter counter;
  counter.SetLimits(100, 100);
  FakeLocked k;
  k.fail = true;
  Decision d;
  EXPECT_FALSE(counter.Charge(Mlock(7), 1, false, k, d));
  EXPECT_TRUE(d.undecidable);
  EXPECT_FALSE(d.refused);
  EXPECT_EQ(counter.values().failcnt, 0u);
  // Without an IPC namespace only the processes' VmLck counts.
  k.fail = false;
  k.no_namespace = true;
  k.vm_locked_pages = 5;
  ASSERT_TRUE(counter.Refresh(k).ok());
  EXPECT_EQ(counter.values().held_pages, 5u);
}

TEST(LockedCounter, FutureIsPerProcessAndPruned) {
  LockedCounter counter;
  EXPECT_FALSE(counter.any_future());
  counter.SetFuture(10, true);
  counter.SetFuture(11, true);
  counter.SetFuture(-1, true);  // a caller that vanished
  EXPECT_TRUE(counter.Future(10));
  EXPECT_FALSE(counter.Future(12));
  counter.SetFuture(10, false);
  EXPECT_FALSE(counter.Future(10));
  counter.PruneGone([](int tgid) { return tgid == 11; });
  EXPECT_FALSE(counter.any_future());
  counter.SetFuture(12, true);
  counter.Retire();
  EXPECT_FALSE(counter.Future(12));
}

}  // namespace
}  // namespace ubc
