#include "core/shm_counter.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <set>

#include "core/syscall_abi.h"

namespace ubc {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kIpcCreat = 01000;

// The namespace's segments as the kernel counts them, and which threads are
// still inside a call.
class FakeNamespace : public MemberReader {
 public:
  Status Sample(MembersSample*) override { return Status::Ok(); }
  CallProgress Progress(int tid, int nr, const std::array<uint64_t, 6>&) override {
    EXPECT_TRUE(nr == x86_64_nr::kShmget || nr == i386_nr::kShmget || nr == i386_nr::kIpc);
    if (running.count(tid)) return CallProgress::kUnknown;
    return inside.count(tid) ? CallProgress::kInside : CallProgress::kDone;
  }
  int ThreadGroupOf(int tid) override { return tid; }
  void ExpectNewProcess(int) override {}
  bool ChildrenReaped(int) override { return false; }
  Result<ShmUsage> SharedMemory() override {
    ++reads;
    if (fail) return Status::Error("setns: Operation not permitted");
    return ShmUsage{pages, segments};
  }
  uint64_t pages = 0;
  uint64_t segments = 0;
  std::set<int> inside;
  std::set<int> running;
  bool fail = false;
  int reads = 0;
};

TrappedCall Shmget(int tid, uint64_t size_bytes, uint64_t key = 0, uint64_t flags = 0600) {
  TrappedCall c;
  c.tid = tid;
  c.nr = x86_64_nr::kShmget;
  c.args = {key, size_bytes, flags, 0, 0, 0};
  return c;
}

Decision Decide(ShmCounter& counter, FakeNamespace& ns, const TrappedCall& call) {
  Decision d;
  d.call = ClassifyTrappedSyscall(call.arch, call.nr, call.args);
  EXPECT_EQ(d.call.kind, CallKind::kShmget);
  counter.CallCompleted(call.tid);
  counter.Decide(call, d.call, ns, d);
  return d;
}

TEST(ShmCounter, AdmitsUpToTheBarrierAndRefusesPastItWithEnomem) {
  ShmCounter counter(100, 120);
  FakeNamespace ns;
  ns.pages = 40;
  Decision ok = Decide(counter, ns, Shmget(7, 60 * kPage));
  EXPECT_EQ(ok.action, Decision::Action::kContinue);
  EXPECT_FALSE(ok.refused);
  EXPECT_STREQ(ok.resource, "shmpages");
  EXPECT_EQ(ok.held_pages, 40u);
  EXPECT_EQ(ok.plan.pages, 60u);
  EXPECT_EQ(counter.values().held_pages, 100u);  // the admitted call is counted until it ran
  // The segment now exists: the kernel counts it and thread 7 is done.
  ns.pages = 100;
  Decision over = Decide(counter, ns, Shmget(8, 1));
  EXPECT_TRUE(over.refused);
  EXPECT_EQ(over.action, Decision::Action::kFail);
  EXPECT_EQ(over.error_number, ENOMEM);
  EXPECT_EQ(over.held_pages, 100u);  // not 160: thread 7's call left the ledger
  EXPECT_EQ(over.bound_pages, 100u);
  EXPECT_EQ(counter.values().failcnt, 1u);
  EXPECT_EQ(counter.values().maxheld_pages, 100u);
}

TEST(ShmCounter, SizesRoundUpToPages) {
  ShmCounter counter(3, 3);
  FakeNamespace ns;
  EXPECT_EQ(Decide(counter, ns, Shmget(1, 2 * kPage + 1)).plan.pages, 3u);
  ns.pages = 3;
  EXPECT_TRUE(Decide(counter, ns, Shmget(1, 1)).refused);
}

TEST(ShmCounter, CallsStillInsideTheKernelCountAgainstOthers) {
  // Two threads race: the first one's segment is not in the kernel's count
  // yet, so the second must see it reserved.
  ShmCounter counter(100, 100);
  FakeNamespace ns;
  ns.inside = {1};
  EXPECT_FALSE(Decide(counter, ns, Shmget(1, 60 * kPage)).refused);
  Decision second = Decide(counter, ns, Shmget(2, 60 * kPage));
  EXPECT_TRUE(second.refused);
  EXPECT_EQ(second.held_pages, 60u);
  // On a CPU, it cannot be told: it stays counted too.
  ns.inside.clear();
  ns.running = {1};
  EXPECT_TRUE(Decide(counter, ns, Shmget(2, 60 * kPage)).refused);
  EXPECT_EQ(counter.in_flight_calls(), 1u);
  // Its next trapped call proves it finished (here the shmget failed: the
  // kernel never counted it).
  counter.CallCompleted(1);
  EXPECT_FALSE(Decide(counter, ns, Shmget(2, 60 * kPage)).refused);
}

TEST(ShmCounter, DestroyedSegmentsLeaveHeld) {
  ShmCounter counter(100, 100);
  FakeNamespace ns;
  ns.pages = 100;
  EXPECT_TRUE(Decide(counter, ns, Shmget(1, kPage)).refused);
  ns.pages = 10;  // IPC_RMID and the last detach
  EXPECT_TRUE(counter.Refresh(ns).ok());
  EXPECT_EQ(counter.values().held_pages, 10u);
  EXPECT_FALSE(Decide(counter, ns, Shmget(1, 90 * kPage)).refused);
}

TEST(ShmCounter, AnUnreadableNamespaceIsUndecidableNotARefusal) {
  ShmCounter counter(100, 100);
  FakeNamespace ns;
  ns.fail = true;
  Decision d = Decide(counter, ns, Shmget(1, kPage));
  EXPECT_TRUE(d.undecidable);
  EXPECT_FALSE(d.refused);
  EXPECT_NE(d.note.find("setns"), std::string::npos);
  EXPECT_EQ(counter.values().failcnt, 0u);
  EXPECT_FALSE(counter.Refresh(ns).ok());
}

TEST(ShmCounter, ASizeOfZeroCreatesNothingAndReadsNothing) {
  ShmCounter counter(0, 0);
  FakeNamespace ns;
  Decision d = Decide(counter, ns, Shmget(1, 0));
  EXPECT_EQ(d.action, Decision::Action::kContinue);
  EXPECT_EQ(ns.reads, 0);
}

TEST(ShmCounter, LimitsChangeLiveAndRetireReleasesEverything) {
  ShmCounter counter(10, 10);
  FakeNamespace ns;
  ns.pages = 10;
  EXPECT_TRUE(Decide(counter, ns, Shmget(1, kPage)).refused);
  counter.SetLimits(20, 30);
  EXPECT_FALSE(Decide(counter, ns, Shmget(1, kPage)).refused);
  counter.Restore(500, 7);
  EXPECT_EQ(counter.values().maxheld_pages, 500u);
  EXPECT_EQ(counter.values().failcnt, 7u);
  counter.Retire();
  EXPECT_EQ(counter.values().held_pages, 0u);
  EXPECT_EQ(counter.in_flight_calls(), 0u);
}

TEST(ShmCounter, I386ShmgetAndTheIpcMultiplexerAreChargedLikeShmget) {
  ShmCounter counter(100, 100);
  FakeNamespace ns;
  TrappedCall direct;
  direct.tid = 1;
  direct.arch = kAuditArchI386;
  direct.nr = i386_nr::kShmget;
  direct.args = {0xffffffff00000000u, 0xffffffff00000000u | (50 * kPage), 0600, 0, 0, 0};
  Decision d = Decide(counter, ns, direct);
  EXPECT_EQ(d.plan.pages, 50u);  // upper halves ignored, as the kernel does
  // ipc(SHMGET | version << 16, key, size, shmflg): the version is ignored.
  TrappedCall ipc;
  ipc.tid = 2;
  ipc.arch = kAuditArchI386;
  ipc.nr = i386_nr::kIpc;
  ipc.args = {(1u << 16) | i386_nr::kIpcShmget, 1234, 60 * kPage, kIpcCreat | 0600, 0, 0};
  ns.inside = {1};
  Decision refused = Decide(counter, ns, ipc);
  EXPECT_TRUE(refused.refused);
  EXPECT_EQ(refused.held_pages, 50u);
}

}  // namespace
}  // namespace ubc
