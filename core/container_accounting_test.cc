#include "core/container_accounting.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <map>
#include <set>

namespace ubc {
namespace {

constexpr uint64_t kPage = kPageBytes;
constexpr uint64_t kProtRw = 3;
constexpr uint64_t kMapPrivateAnon = 0x22;
constexpr uint64_t kMapFixed = 0x10;
constexpr uint64_t kMapSharedAnon = 0x21;

class FakeTarget : public TargetReader {
 public:
  Result<uint64_t> DataPages() override {
    ++statm_reads;
    if (vanished) return Status::Error("gone");
    return data_pages;
  }
  Result<std::vector<MapEntry>> Maps() override {
    ++maps_reads;
    if (vanished) return Status::Error("gone");
    return maps;
  }
  Result<ImageFacts> Image() override {
    ++image_reads;
    if (vanished) return Status::Error("gone");
    return ImageFacts{vm_pages, start_brk, threads};
  }
  Result<uint64_t> LockedPages() override {
    ++locked_reads;
    if (vanished) return Status::Error("gone");
    return locked_pages;
  }
  Result<std::vector<AddressRange>> LockedRanges() override {
    ++locked_reads;
    if (vanished) return Status::Error("gone");
    return locked_ranges;
  }
  uint64_t locked_pages = 0;  // the caller's VmLck
  std::vector<AddressRange> locked_ranges;
  int locked_reads = 0;
  uint64_t data_pages = 0;
  std::vector<MapEntry> maps;
  uint64_t start_brk = 0x555555000000;
  uint64_t vm_pages = 0;  // vsize after an exec
  uint64_t threads = 1;   // num_threads of the caller's process
  bool vanished = false;
  int maps_reads = 0;
  int image_reads = 0;
  int statm_reads = 0;
};

class FakeMembers : public MemberReader {
 public:
  Status Sample(MembersSample* out) override {
    ++samples;
    if (fail) return Status::Error("/proc unreadable");
    out->data_pages = data_pages;
    out->shared_anon_pages = count_shared_anon ? shared_anon_pages : 0;
    out->processes = 1;
    ++out->generation;  // the fake's members may change between any two samples
    out->data_pages_by_tgid.assign(by_tgid.begin(), by_tgid.end());
    if (out->data_pages_by_tgid.empty()) out->data_pages_by_tgid.emplace_back(kTgid, data_pages);
    return Status::Ok();
  }
  CallProgress Progress(int tid, int, const std::array<uint64_t, 6>&) override {
    if (running.count(tid)) return CallProgress::kUnknown;
    return in_flight.count(tid) ? CallProgress::kInside : CallProgress::kDone;
  }
  int ThreadGroupOf(int tid) override {
    auto it = tgid_of.find(tid);
    return it == tgid_of.end() ? kTgid : it->second;
  }
  void ExpectNewProcess(int forker_tid) override { forkers.push_back(forker_tid); }
  void CountSharedAnonymous() override { count_shared_anon = true; }
  Result<ShmUsage> SharedMemory() override {
    if (shm_fail) return Status::Error("no IPC namespace");
    return ShmUsage{sysv_pages, sysv_pages > 0 ? 1u : 0u, sysv_locked_pages};
  }
  Result<uint64_t> LockedPages() override {
    ++locked_reads;
    if (locked_fail) return Status::Error("status unreadable");
    return vm_locked_pages;
  }
  Result<uint64_t> Tasks() override {
    ++task_reads;
    return tasks;
  }
  uint64_t tasks = 1;  // num_threads summed over the members
  int task_reads = 0;
  Result<ShmSegment> SharedSegment(int shmid) override {
    if (shm_fail) return Status::Error("no IPC namespace");
    auto it = segments.find(shmid);
    return it == segments.end() ? ShmSegment{} : it->second;
  }
  uint64_t vm_locked_pages = 0;  // VmLck summed over the members
  uint64_t sysv_locked_pages = 0;
  std::map<int, ShmSegment> segments;
  bool locked_fail = false;
  int locked_reads = 0;
  bool count_shared_anon = false;
  uint64_t shared_anon_pages = 0;  // shown only once asked to count them
  uint64_t sysv_pages = 0;
  bool shm_fail = false;
  bool ChildrenReaped(int tid) override {
    ++children_reads;
    return reaped.count(tid) != 0;
  }
  std::set<int> reaped;  // threads whose children are all gone
  int children_reads = 0;
  static constexpr int kTgid = 1;
  std::vector<int> forkers;    // every ExpectNewProcess, in order
  std::map<int, int> tgid_of;  // threads of other processes than kTgid
  uint64_t data_pages = 0;
  std::map<int, uint64_t> by_tgid;  // default: everything in one process kTgid
  std::set<int> in_flight;
  std::set<int> running;
  bool fail = false;
  int samples = 0;
};

TrappedCall Mmap(int tid, uint64_t pages, uint64_t flags = kMapPrivateAnon, uint64_t addr = 0) {
  TrappedCall c;
  c.tid = tid;
  c.nr = x86_64_nr::kMmap;
  c.args = {addr, pages * kPage, kProtRw, flags, ~0ULL, 0};
  return c;
}

TrappedCall Execve(int tid) {
  TrappedCall c;
  c.tid = tid;
  c.nr = x86_64_nr::kExecve;
  return c;
}

TrappedCall Syscall(int tid, int nr, std::array<uint64_t, 6> args) {
  TrappedCall c;
  c.tid = tid;
  c.nr = nr;
  c.args = args;
  return c;
}

MapEntry Map(uint64_t start, uint64_t end, bool write, bool shared, std::string path = "") {
  MapEntry e;
  e.start = start;
  e.end = end;
  e.read = true;
  e.write = write;
  e.shared = shared;
  e.path = std::move(path);
  return e;
}

TEST(ContainerAccountingTest, AdmitsBelowBarrierAndRefusesAboveWithEnomem) {
  ContainerAccounting acc(1000, 1100, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 100;

  Decision ok = acc.Decide(Mmap(1, 200), target, members);
  EXPECT_EQ(ok.action, Decision::Action::kContinue);
  EXPECT_FALSE(ok.refused);
  EXPECT_EQ(ok.plan.pages, 200u);

  members.data_pages = 300;  // the kernel now shows the mapping
  Decision no = acc.Decide(Mmap(1, 701), target, members);
  EXPECT_TRUE(no.refused);
  EXPECT_EQ(no.action, Decision::Action::kFail);
  EXPECT_EQ(no.error_number, ENOMEM);
  EXPECT_EQ(no.held_pages, 300u);
  EXPECT_EQ(no.bound_pages, 1000u);
  EXPECT_EQ(acc.Peek().privvmpages.failcnt, 1u);
}

TEST(ContainerAccountingTest, AForkCountedTwiceNeverShowsHeldPastTheLimit) {
  ContainerAccounting acc(1000, 1300, Bc2006Profile());
  FakeTarget target;
  target.data_pages = 600;
  FakeMembers members;
  members.data_pages = 600;
  ASSERT_FALSE(acc.Decide(Syscall(1, x86_64_nr::kFork, {}), target, members).refused);
  members.in_flight = {1};  // the parent is still in fork, its child already listed
  members.by_tgid = {{1, 600}, {2, 600}};
  members.data_pages = 1200;
  AccountingSnapshot s = acc.Refresh(members);
  EXPECT_EQ(s.privvmpages.held_pages, 1300u);  // 1800 counted; no more than the limit shown
  EXPECT_EQ(acc.Peek().privvmpages.held_pages, 1300u);
  EXPECT_EQ(s.privvmpages.maxheld_pages, 1200u);
  EXPECT_TRUE(acc.Decide(Mmap(2, 1), target, members).refused);  // decided on the 1800
  members.in_flight.clear();
  EXPECT_EQ(acc.Refresh(members).privvmpages.held_pages, 1200u);
  members.by_tgid = {{1, 600}, {2, 750}};  // growth no call asked for (a stack)
  members.data_pages = 1350;
  EXPECT_EQ(acc.Refresh(members).privvmpages.held_pages, 1350u);  // is shown as it is
}

TEST(ContainerAccountingTest, ReachingTheBarrierExactlyIsAllowed) {
  ContainerAccounting acc(1000, 1100, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 400;
  EXPECT_FALSE(acc.Decide(Mmap(1, 600), target, members).refused);
  members.data_pages = 1000;
  EXPECT_TRUE(acc.Decide(Mmap(1, 1), target, members).refused);
  EXPECT_EQ(acc.Peek().privvmpages.failcnt, 1u);
  EXPECT_EQ(acc.Peek().privvmpages.maxheld_pages, 1000u);
}

TEST(ContainerAccountingTest, FarBelowTheBarrierDecidesWithoutReadingProc) {
  ContainerAccounting acc(100000, 100000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 10;
  acc.Decide(Mmap(1, 10), target, members);  // first decision reads the truth
  ASSERT_EQ(members.samples, 1);
  for (int i = 0; i < 20; ++i) acc.Decide(Mmap(1, 10), target, members);
  EXPECT_EQ(members.samples, 1);
  EXPECT_EQ(target.maps_reads, 0);
}

TEST(ContainerAccountingTest, EstimateIsRefreshedAfterMaxFastDecisions) {
  ContainerAccounting::Tuning tuning;
  tuning.max_fast_decisions = 4;
  ContainerAccounting acc(100000, 100000, Bc2006Profile(), tuning);
  FakeTarget target;
  FakeMembers members;
  for (int i = 0; i < 11; ++i) acc.Decide(Mmap(1, 1), target, members);
  EXPECT_EQ(members.samples, 3);  // calls 1, 6 and 11
}

TEST(ContainerAccountingTest, NearTheBarrierTheExactValueDecides) {
  ContainerAccounting acc(1000, 1000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 0;
  acc.Decide(Mmap(1, 10), target, members);
  int before = members.samples;
  // 10 + 890 = 900 is exactly the 90% threshold: still the estimate.
  acc.Decide(Mmap(2, 890), target, members);
  EXPECT_EQ(members.samples, before);
  acc.Decide(Mmap(3, 1), target, members);
  EXPECT_EQ(members.samples, before + 1);
}

TEST(ContainerAccountingTest, LargeBoundsUseTheEstimateUpToTheHeadroom) {
  // 65536 pages (256 MiB): the estimate decides up to 65536 - 2048 = 63488
  // pages (96.9%), beyond the 90% a small bound gets.
  ContainerAccounting acc(65536, 65536, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 61600;  // 94%
  acc.Decide(Mmap(1, 16), target, members);
  ASSERT_EQ(members.samples, 1);
  members.data_pages = 61616;
  // 61616 + 58 * 32 = 63472 <= 63488: decided on the estimate.
  for (int i = 0; i < 58; ++i) ASSERT_FALSE(acc.Decide(Mmap(1, 32), target, members).refused);
  EXPECT_EQ(members.samples, 1);
  // 63472 + 17 > 63488: within the headroom, decided exactly.
  Decision d = acc.Decide(Mmap(1, 17), target, members);
  EXPECT_EQ(members.samples, 2);
  EXPECT_TRUE(d.exact);
  EXPECT_FALSE(d.refused);
}

TEST(ContainerAccountingTest, WithinTheHeadroomEveryDecisionIsExact) {
  ContainerAccounting acc(65536, 65536, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 65536 - 2048;  // at the headroom
  for (int i = 1; i <= 5; ++i) {
    Decision d = acc.Decide(Mmap(1, 1), target, members);
    EXPECT_TRUE(d.exact);
    EXPECT_EQ(members.samples, i);
  }
  members.data_pages = 65536;
  EXPECT_TRUE(acc.Decide(Mmap(1, 1), target, members).refused);
}

TEST(ContainerAccountingTest, InFlightReservationsStopConcurrentThreadsFromOvershooting) {
  ContainerAccounting acc(1000, 1000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 100;
  // Thread 1's 800 pages are admitted but not yet in statm.
  ASSERT_FALSE(acc.Decide(Mmap(1, 800), target, members).refused);
  members.in_flight = {1};
  Decision d = acc.Decide(Mmap(2, 200), target, members);
  EXPECT_TRUE(d.refused);
  EXPECT_EQ(d.held_pages, 900u);
  EXPECT_TRUE(d.exact);
  // Thread 1 completed: statm has it, the reservation is released.
  members.in_flight.clear();
  members.data_pages = 900;
  EXPECT_FALSE(acc.Decide(Mmap(2, 100), target, members).refused);
  members.data_pages = 1000;
  EXPECT_TRUE(acc.Decide(Mmap(3, 1), target, members).refused);
}

TEST(ContainerAccountingTest, AThreadsNextCallSettlesItsPreviousReservation) {
  ContainerAccounting acc(1000, 1000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  ASSERT_FALSE(acc.Decide(Mmap(1, 500), target, members).refused);
  EXPECT_EQ(acc.Peek().reservations, 1u);
  members.data_pages = 500;
  members.in_flight = {1};  // would keep it, but the thread's new call proves completion
  Decision d = acc.Decide(Mmap(1, 500), target, members);
  EXPECT_FALSE(d.refused);
  EXPECT_EQ(d.held_pages, 500u);
}

TEST(ContainerAccountingTest, BrkRefusalReturnsTheOldBreak) {
  ContainerAccounting acc(1000, 1000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 900;
  const uint64_t heap_start = 0x555555000000;
  target.maps = {Map(heap_start, heap_start + 16 * kPage, true, false, "[heap]")};
  Decision d = acc.Decide(
      Syscall(1, x86_64_nr::kBrk, {heap_start + 16 * kPage + 200 * kPage, 0, 0, 0, 0, 0}), target,
      members);
  EXPECT_TRUE(d.refused);
  EXPECT_EQ(d.action, Decision::Action::kReturn);
  EXPECT_EQ(d.return_value, heap_start + 16 * kPage);
  EXPECT_EQ(d.plan.pages, 200u);
}

TEST(ContainerAccountingTest, BrkWithoutAHeapGrowsFromStartBrk) {
  ContainerAccounting acc(1000, 1000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  Decision d = acc.Decide(
      Syscall(1, x86_64_nr::kBrk, {target.start_brk + 10 * kPage, 0, 0, 0, 0, 0}), target, members);
  EXPECT_FALSE(d.refused);
  EXPECT_EQ(d.plan.pages, 10u);
  Decision shrink =
      acc.Decide(Syscall(1, x86_64_nr::kBrk, {target.start_brk, 0, 0, 0, 0, 0}), target, members);
  EXPECT_EQ(shrink.plan.check, ChargeCheck::kNone);
}

TEST(ContainerAccountingTest, BrkGrowthsFarBelowTheBoundArePlannedFromTheLastReadBreakWithoutMaps) {
  ContainerAccounting acc(100000, 100000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  const uint64_t start = target.start_brk;
  acc.Decide(Syscall(1, x86_64_nr::kBrk, {start + 10 * kPage, 0, 0, 0, 0, 0}), target, members);
  const int first = target.maps_reads;
  for (uint64_t i = 2; i <= 20; ++i) {
    Decision d = acc.Decide(Syscall(1, x86_64_nr::kBrk, {start + i * 10 * kPage, 0, 0, 0, 0, 0}),
                            target, members);
    // Charged from the last growth asked for: if the kernel refused it, its
    // charge is still in the estimate (no exact read since), so held errs high.
    EXPECT_EQ(d.plan.pages, 10u);
    EXPECT_FALSE(d.exact);
  }
  EXPECT_EQ(target.maps_reads, first);
  EXPECT_EQ(acc.Peek().privvmpages.maxheld_pages, 200u);
}

TEST(ContainerAccountingTest, AGrowthTheKernelRefusedNeverPlansALaterOneAsAShrink) {
  // RLIMIT_DATA makes the kernel refuse growths ubcd admitted; the break stays.
  ContainerAccounting acc(20000, 20000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  const uint64_t start = target.start_brk;
  target.maps = {Map(start, start + kPage, true, false, "[heap]")};
  auto brk = [&](uint64_t addr) {
    return acc.Decide(Syscall(1, x86_64_nr::kBrk, {addr, 0, 0, 0, 0, 0}), target, members);
  };
  for (uint64_t step = 1; step <= 5; ++step) {
    Decision d = brk(start + kPage + step * 5000 * kPage);
    if (d.refused) break;  // admitted ones are refused by the kernel: nothing moves
  }
  // The limit lifted, a brk far above the real break is a growth of 50000 pages.
  Decision big = brk(start + kPage + 50000 * kPage);
  EXPECT_TRUE(big.refused);
  EXPECT_EQ(big.plan.pages, 50000u);
  EXPECT_EQ(big.action, Decision::Action::kReturn);
  EXPECT_EQ(big.return_value, start + kPage);
}

TEST(ContainerAccountingTest, ARefusedBrkReturnsTheKernelsBreakNotARememberedOne) {
  ContainerAccounting acc(1000, 1000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 100;
  const uint64_t start = target.start_brk;
  target.maps = {Map(start, start + 10 * kPage, true, false, "[heap]")};
  ASSERT_FALSE(
      acc.Decide(Syscall(1, x86_64_nr::kBrk, {start + 20 * kPage, 0, 0, 0, 0, 0}), target, members)
          .refused);
  // The kernel granted it and more happened since (the heap is at +300 now).
  target.maps = {Map(start, start + 300 * kPage, true, false, "[heap]")};
  members.data_pages = 390;
  Decision d = acc.Decide(Syscall(1, x86_64_nr::kBrk, {start + 1300 * kPage, 0, 0, 0, 0, 0}),
                          target, members);
  EXPECT_TRUE(d.refused);
  EXPECT_EQ(d.action, Decision::Action::kReturn);
  EXPECT_EQ(d.return_value, start + 300 * kPage);
  EXPECT_EQ(d.plan.pages, 1000u);
}

TEST(ContainerAccountingTest, BrkShrinksAndRegrowthsAwayFromTheBoundReadNoMaps) {
  ContainerAccounting::Tuning tuning;
  tuning.max_fast_decisions = 2;  // exact reads for staleness read no maps either
  ContainerAccounting acc(100000, 100000, Bc2006Profile(), tuning);
  FakeTarget target;
  FakeMembers members;
  const uint64_t start = target.start_brk;
  auto brk = [&](int tid, uint64_t addr) {
    return acc.Decide(Syscall(tid, x86_64_nr::kBrk, {addr, 0, 0, 0, 0, 0}), target, members);
  };
  brk(1, start + 10 * kPage);  // nothing remembered yet: the real break is read
  const int first = target.maps_reads;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(brk(1, start).plan.check, ChargeCheck::kNone);  // glibc's trim
    EXPECT_EQ(brk(1, start + 10 * kPage).plan.pages, 10u);
  }
  // A shrink leaves a break the kernel's cannot be below: nothing to read,
  // though every other decision is exact.
  EXPECT_EQ(target.maps_reads, first);
  EXPECT_GE(members.samples, 2);
  // Another thread of the same process moves the same break, planned from it.
  EXPECT_EQ(brk(1, start).plan.check, ChargeCheck::kNone);
  EXPECT_EQ(brk(2, start + 30 * kPage).plan.pages, 30u);
}

TEST(ContainerAccountingTest, AfterAnExactReadAGrowthIsChargedFromTheLastBreakRead) {
  // The exact read replaced the estimate by the kernel's figure, which holds
  // a growth only if the kernel granted it: the next growth cannot count on it.
  ContainerAccounting::Tuning tuning;
  tuning.max_fast_decisions = 1;
  ContainerAccounting acc(100000, 100000, Bc2006Profile(), tuning);
  FakeTarget target;
  FakeMembers members;
  const uint64_t start = target.start_brk;
  auto brk = [&](uint64_t addr) {
    return acc.Decide(Syscall(1, x86_64_nr::kBrk, {addr, 0, 0, 0, 0, 0}), target, members);
  };
  brk(start + 10 * kPage);  // read: the heap is at start
  ASSERT_FALSE(brk(start + 20 * kPage).exact);
  // Exact (stale estimate): the growth may have been refused, so the break is read.
  const int before = target.maps_reads;
  Decision d = brk(start + 30 * kPage);
  EXPECT_TRUE(d.exact);
  EXPECT_EQ(target.maps_reads, before + 1);
  EXPECT_EQ(d.plan.pages, 30u);  // the fake kernel never moved the break
}

TEST(ContainerAccountingTest, AnExecForgetsTheBreakAndAddsTheNewImageToTheEstimate) {
  ContainerAccounting acc(100000, 100000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  const uint64_t old_start = target.start_brk;
  acc.Decide(Syscall(1, x86_64_nr::kBrk, {old_start + 100 * kPage, 0, 0, 0, 0, 0}), target,
             members);
  Decision exec = acc.Decide(Execve(1), target, members);
  EXPECT_EQ(exec.call.kind, CallKind::kExec);
  EXPECT_EQ(exec.plan.check, ChargeCheck::kNone);
  EXPECT_EQ(exec.action, Decision::Action::kContinue);
  // The new image's heap starts lower (randomised): its first brk grows it
  // by 5 pages, which the old break would have taken for a shrink.
  target.start_brk = old_start - 1000 * kPage;
  target.vm_pages = 700;  // the new image's vsize: data, bss, stack and the rest
  const uint64_t before = acc.Peek().privvmpages.held_pages;
  Decision d = acc.Decide(
      Syscall(1, x86_64_nr::kBrk, {target.start_brk + 5 * kPage, 0, 0, 0, 0, 0}), target, members);
  EXPECT_EQ(d.plan.pages, 5u);
  EXPECT_FALSE(d.exact);
  EXPECT_EQ(d.held_pages, before + 700);  // decided with the image in the estimate
  EXPECT_EQ(acc.Peek().privvmpages.held_pages, before + 705);
  // Only that call reads the image; the estimate decides on, from the new break.
  const int maps = target.maps_reads;
  Decision next = acc.Decide(
      Syscall(1, x86_64_nr::kBrk, {target.start_brk + 8 * kPage, 0, 0, 0, 0, 0}), target, members);
  EXPECT_EQ(next.plan.pages, 3u);
  EXPECT_FALSE(next.exact);
  EXPECT_EQ(target.maps_reads, maps);
}

TEST(ContainerAccountingTest, AfterAnExecOneStatReadGivesTheImageAndTheBreak) {
  ContainerAccounting acc(100000, 100000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  acc.Decide(Mmap(1, 10), target, members);
  acc.Decide(Syscall(1, x86_64_nr::kExecveat, {0, 0, 0, 0, 0, 0}), target, members);
  EXPECT_FALSE(acc.Decide(Mmap(1, 10), target, members).exact);  // ld.so's first mapping
  Decision d = acc.Decide(
      Syscall(1, x86_64_nr::kBrk, {target.start_brk + 7 * kPage, 0, 0, 0, 0, 0}), target, members);
  EXPECT_EQ(d.plan.pages, 7u);
  EXPECT_FALSE(d.exact);
  EXPECT_EQ(target.maps_reads, 0);
  EXPECT_EQ(target.image_reads, 1);
}

TEST(ContainerAccountingTest, ALargeNewImageNearTheBoundIsDecidedExactly) {
  ContainerAccounting acc(10000, 10000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 1000;
  acc.Decide(Mmap(1, 10), target, members);
  acc.Decide(Execve(1), target, members);
  // The new image brought 8500 pages of bss (vsize 8600): 1010 + 8600 + 10 is past 90%.
  target.vm_pages = 8600;
  members.data_pages = 8500;
  const int samples = members.samples;
  Decision d = acc.Decide(Mmap(1, 10), target, members);
  EXPECT_TRUE(d.exact);
  EXPECT_EQ(members.samples, samples + 1);
  EXPECT_EQ(d.held_pages, 8500u);
  // Had the image stayed out of the estimate, 1010 + 1000 would have passed.
  EXPECT_TRUE(acc.Decide(Mmap(1, 1600), target, members).refused);
}

TEST(ContainerAccountingTest, TheFirstCallAfterAnExecIsExactWhenTheImageCannotBeRead) {
  ContainerAccounting acc(100000, 100000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  acc.Decide(Mmap(1, 10), target, members);
  acc.Decide(Execve(1), target, members);
  target.vanished = true;  // /proc/PID/stat unreadable for a moment
  EXPECT_TRUE(acc.Decide(Mmap(1, 10), target, members).exact);
}

// A container of 8192:10240 at 7010 pages whose process exec'd an image the
// kernel gave a 6144-page bss without a trapped call: 13144 pages, over the limit.
void ExecAnImageWithALargeBss(ContainerAccounting& acc, FakeTarget& target, FakeMembers& members) {
  members.data_pages = 7000;
  acc.Decide(Mmap(1, 10), target, members);
  acc.Decide(Execve(1), target, members);
  members.data_pages = 13144;
}

TEST(ContainerAccountingTest, AnExecImageThatTakesTheContainerOverTheLimitIsReported) {
  ContainerAccounting acc(8192, 10240, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  ExecAnImageWithALargeBss(acc, target, members);
  const int samples = members.samples;
  ContainerAccounting::ImageCheck check = acc.CheckImage(FakeMembers::kTgid, members);
  EXPECT_EQ(members.samples, samples + 1);  // one exact read
  EXPECT_TRUE(check.checked);
  EXPECT_TRUE(check.member);
  EXPECT_TRUE(check.over_limit);
  EXPECT_EQ(check.held_pages, 13144u);
  EXPECT_EQ(check.limit_pages, 10240u);
  EXPECT_EQ(check.image_pages, 13144u);  // the fake's one process holds everything
  const AccountingSnapshot snap = acc.Peek();
  EXPECT_EQ(snap.privvmpages.failcnt, 1u);
  EXPECT_EQ(snap.privvmpages.held_pages, 13144u);
  EXPECT_EQ(acc.Published().privvmpages.failcnt, 1u);  // status readers see it
}

TEST(ContainerAccountingTest, AnImageOverTheLimitWhoseFirstCallComesBeforeTheCheckIsKilled) {
  ContainerAccounting acc(8192, 10240, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  ExecAnImageWithALargeBss(acc, target, members);
  target.vm_pages = 6200;  // the exec watcher has not checked it yet
  Decision d = acc.Decide(Syscall(1, x86_64_nr::kBrk, {target.start_brk + kPage, 0, 0, 0, 0, 0}),
                          target, members);
  EXPECT_TRUE(d.kill_caller);
  EXPECT_TRUE(d.refused);
  EXPECT_TRUE(d.exact);
  EXPECT_EQ(d.held_pages, 13144u);
  EXPECT_EQ(d.bound_pages, 10240u);
  EXPECT_EQ(acc.Peek().privvmpages.failcnt, 1u);
  // The watcher's check of the same image comes after: not counted twice.
  EXPECT_FALSE(acc.CheckImage(FakeMembers::kTgid, members).over_limit);
  EXPECT_EQ(acc.Peek().privvmpages.failcnt, 1u);

  // An image that fits is not killed, though the estimate (old image + vsize) was over.
  ContainerAccounting fits(8192, 10240, Bc2006Profile());
  members.data_pages = 7000;
  fits.Decide(Mmap(1, 10), target, members);
  fits.Decide(Execve(1), target, members);
  members.data_pages = 6300;  // the old image's pages went with it
  Decision ok = fits.Decide(Mmap(1, 10), target, members);
  EXPECT_FALSE(ok.kill_caller);
  EXPECT_FALSE(ok.refused);
  EXPECT_EQ(fits.Peek().privvmpages.failcnt, 0u);
}

TEST(ContainerAccountingTest, AnExecImageOverTheBarrierButWithinTheLimitRuns) {
  ContainerAccounting acc(8192, 10240, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 10240;  // equality is allowed
  ContainerAccounting::ImageCheck check = acc.CheckImage(FakeMembers::kTgid, members);
  EXPECT_TRUE(check.checked);
  EXPECT_FALSE(check.over_limit);
  EXPECT_EQ(acc.Peek().privvmpages.failcnt, 0u);
}

TEST(ContainerAccountingTest, AnExecCheckCountsTheImageSoTheNextCallOnlyReadsItsBreak) {
  ContainerAccounting acc(100000, 100000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 1000;
  acc.Decide(Syscall(1, x86_64_nr::kBrk, {target.start_brk + 100 * kPage, 0, 0, 0, 0, 0}), target,
             members);
  acc.Decide(Execve(1), target, members);
  target.vm_pages = 700;
  members.data_pages = 1500;  // the new image, in the kernel's figure
  ASSERT_FALSE(acc.CheckImage(FakeMembers::kTgid, members).over_limit);
  EXPECT_EQ(acc.Peek().privvmpages.held_pages, 1500u);
  // The image is in the exact value already: its vsize is not added again,
  // and the new image's break is the kernel's, not the old image's.
  target.start_brk -= 1000 * kPage;
  const int images = target.image_reads;
  const int maps = target.maps_reads;
  Decision d = acc.Decide(
      Syscall(1, x86_64_nr::kBrk, {target.start_brk + 5 * kPage, 0, 0, 0, 0, 0}), target, members);
  EXPECT_EQ(d.plan.pages, 5u);
  EXPECT_FALSE(d.exact);
  EXPECT_EQ(d.held_pages, 1500u);
  EXPECT_EQ(target.maps_reads, maps);         // no maps read: the image's start_brk
  EXPECT_EQ(target.image_reads, images + 1);  // one stat read, as without the check
}

TEST(ContainerAccountingTest, AnExecCheckOfAProcessNotListedListsAfreshAndSaysSo) {
  ContainerAccounting acc(1000, 1000, Bc2006Profile());
  FakeMembers members;
  members.data_pages = 5000;
  ContainerAccounting::ImageCheck check = acc.CheckImage(42, members);
  ASSERT_EQ(members.forkers.size(), 1u);
  EXPECT_EQ(members.forkers[0], -1);  // a full listing
  EXPECT_TRUE(check.checked);
  EXPECT_FALSE(check.member);
  EXPECT_FALSE(check.over_limit);  // not this container's process: nothing to kill
  EXPECT_EQ(acc.Peek().privvmpages.failcnt, 0u);
}

TEST(ContainerAccountingTest, AnExecCheckDecidesNothingWhenTheMembersCannotBeRead) {
  ContainerAccounting acc(1000, 1000, Bc2006Profile());
  FakeMembers members;
  members.fail = true;
  EXPECT_FALSE(acc.CheckImage(FakeMembers::kTgid, members).checked);
  members.fail = false;
  members.data_pages = 5000;
  acc.Retire(members);
  EXPECT_FALSE(acc.CheckImage(FakeMembers::kTgid, members).checked);
  EXPECT_EQ(acc.Peek().privvmpages.failcnt, 0u);
}

TEST(ContainerAccountingTest, BrkNearTheBoundUsesTheRealBreak) {
  ContainerAccounting acc(1000, 1000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 500;
  const uint64_t heap = target.start_brk;
  target.maps = {Map(heap, heap + 100 * kPage, true, false, "[heap]")};
  // The thread remembers a break of heap+100 pages; the kernel (say it failed
  // a brk we admitted) is at heap+100 too, then asks for 501 more: refused,
  // and the answer is the real break.
  acc.Decide(Syscall(1, x86_64_nr::kBrk, {heap + 100 * kPage, 0, 0, 0, 0, 0}), target, members);
  Decision d =
      acc.Decide(Syscall(1, x86_64_nr::kBrk, {heap + 601 * kPage, 0, 0, 0, 0, 0}), target, members);
  EXPECT_TRUE(d.exact);
  EXPECT_TRUE(d.refused);
  EXPECT_EQ(d.action, Decision::Action::kReturn);
  EXPECT_EQ(d.return_value, heap + 100 * kPage);
}

TEST(ContainerAccountingTest, ForkIsCheckedAgainstTheLimitUnderBc2006) {
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 600;
  target.data_pages = 600;
  TrappedCall fork = Syscall(1, x86_64_nr::kFork, {});
  ContainerAccounting bc(1000, 1300, Bc2006Profile());
  Decision d = bc.Decide(fork, target, members);
  EXPECT_FALSE(d.refused);  // 1200 <= limit 1300, though over the barrier
  EXPECT_EQ(d.plan.check, ChargeCheck::kLimit);
  ContainerAccounting ovz(1000, 1300, OpenvzProfile());
  Decision o = ovz.Decide(fork, target, members);
  EXPECT_TRUE(o.refused);
  EXPECT_EQ(o.plan.check, ChargeCheck::kBarrier);
  EXPECT_EQ(o.error_number, ENOMEM);
}

TEST(ContainerAccountingTest, AForkAwayFromTheBoundIsPlannedFromTheParentsEstimate) {
  ContainerAccounting acc(10000, 10000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 600;
  ASSERT_FALSE(acc.Decide(Mmap(1, 10), target, members).refused);  // the first read
  Decision d = acc.Decide(Syscall(1, x86_64_nr::kFork, {}), target, members);
  EXPECT_FALSE(d.exact);
  EXPECT_EQ(d.plan.pages, 610u);  // statm at the read + the mmap admitted since
  EXPECT_EQ(members.samples, 1);
  EXPECT_EQ(target.statm_reads, 0);
}

TEST(ContainerAccountingTest, AForkNearTheBoundTakesTheParentFromTheExactRead) {
  ContainerAccounting acc(1300, 1300, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 600;
  ASSERT_FALSE(acc.Decide(Mmap(1, 10), target, members).refused);
  members.data_pages = 605;  // the kernel shows the mapping, and a page went
  Decision d = acc.Decide(Syscall(1, x86_64_nr::kFork, {}), target, members);
  EXPECT_TRUE(d.exact);  // 610 + 610 is past 90% of 1300
  EXPECT_EQ(d.plan.pages, 605u);
  EXPECT_FALSE(d.refused);
  EXPECT_EQ(members.samples, 2);
  EXPECT_EQ(target.statm_reads, 0);
}

TEST(ContainerAccountingTest, AForkOfAProcessNotListedYetOpensTheCallersStatm) {
  ContainerAccounting acc(10000, 10000, Bc2006Profile());
  FakeTarget target;
  target.data_pages = 700;
  FakeMembers members;
  members.data_pages = 600;
  members.tgid_of[7] = 7;  // a new process, not in the sample
  ASSERT_FALSE(acc.Decide(Mmap(1, 10), target, members).refused);
  Decision d = acc.Decide(Syscall(7, x86_64_nr::kFork, {}), target, members);
  EXPECT_TRUE(d.exact);
  EXPECT_EQ(d.plan.pages, 700u);
  EXPECT_EQ(target.statm_reads, 1);
}

TEST(ContainerAccountingTest, MprotectChargesOnlyPagesBecomingPrivateWritable) {
  ContainerAccounting acc(1000, 2000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 900;
  const uint64_t base = 0x7f0000000000;
  // 50 read-only private pages, then 50 already writable.
  target.maps = {Map(base, base + 50 * kPage, false, false),
                 Map(base + 50 * kPage, base + 100 * kPage, true, false)};
  Decision d = acc.Decide(Syscall(1, x86_64_nr::kMprotect, {base, 100 * kPage, kProtRw, 0, 0, 0}),
                          target, members);
  EXPECT_TRUE(d.exact);
  EXPECT_EQ(d.plan.pages, 50u);
  EXPECT_FALSE(d.refused);  // 950 <= 1000
  EXPECT_EQ(target.maps_reads, 1);
}

TrappedCall Shmget(int tid, uint64_t pages) {
  return Syscall(tid, x86_64_nr::kShmget, {0 /* IPC_PRIVATE */, pages * kPage, 0600, 0, 0, 0});
}

TEST(ContainerAccountingTest, OpenvzHoldsSharedMemoryInPrivvmpagesOnceBc2006DoesNot) {
  FakeMembers members;
  members.data_pages = 100;
  members.shared_anon_pages = 50;
  members.sysv_pages = 30;
  ContainerAccounting ovz(1000, 1000, OpenvzProfile());
  AccountingSnapshot o = ovz.Refresh(members);
  EXPECT_TRUE(members.count_shared_anon);
  EXPECT_EQ(o.privvmpages.held_pages, 180u);
  EXPECT_EQ(o.privvmpages.maxheld_pages, 180u);
  EXPECT_EQ(o.shmpages.held_pages, 80u);  // segments and shared anonymous objects

  FakeMembers bc_members = members;
  bc_members.count_shared_anon = false;
  ContainerAccounting bc(1000, 1000, Bc2006Profile());
  AccountingSnapshot b = bc.Refresh(bc_members);
  EXPECT_FALSE(bc_members.count_shared_anon);  // no maps reads under bc2006
  EXPECT_EQ(b.privvmpages.held_pages, 100u);
  EXPECT_EQ(b.shmpages.held_pages, 30u);  // SysV segments only
}

TEST(ContainerAccountingTest, OpenvzChecksASharedAnonymousMappingAgainstShmpagesToo) {
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 100;
  ContainerAccounting ovz(10000, 10000, OpenvzProfile());
  ovz.SetShmLimits(100, 100);
  ASSERT_FALSE(ovz.Decide(Mmap(1, 10), target, members).refused);  // an exact read
  Decision over = ovz.Decide(Mmap(2, 150, kMapSharedAnon), target, members);
  EXPECT_TRUE(over.refused);
  EXPECT_STREQ(over.resource, "shmpages");
  EXPECT_EQ(over.error_number, ENOMEM);
  EXPECT_EQ(ovz.Peek().shmpages.failcnt, 1u);
  EXPECT_EQ(ovz.Peek().privvmpages.failcnt, 0u);  // only the refusing counter's
  const int samples = members.samples;
  Decision fits = ovz.Decide(Mmap(3, 60, kMapSharedAnon), target, members);
  EXPECT_FALSE(fits.refused);
  EXPECT_TRUE(fits.exact);  // far from the privvmpages bound, still on a fresh read
  EXPECT_GT(members.samples, samples);
  EXPECT_EQ(ovz.Peek().shmpages.held_pages, 60u);  // in flight
  // Once it ran, the object is what the kernel shows; it stays charged.
  members.shared_anon_pages = 60;
  EXPECT_TRUE(ovz.Decide(Mmap(3, 41, kMapSharedAnon), target, members).refused);
  EXPECT_EQ(ovz.Peek().shmpages.held_pages, 60u);
  EXPECT_EQ(ovz.Peek().privvmpages.held_pages, 160u);  // statm data 100 + the object

  ContainerAccounting bc(10000, 10000, Bc2006Profile());
  bc.SetShmLimits(100, 100);
  EXPECT_FALSE(bc.Decide(Mmap(2, 150, kMapSharedAnon), target, members).refused);
}

TEST(ContainerAccountingTest, OpenvzChargesANewSegmentToPrivvmpagesToo) {
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 950;
  ContainerAccounting ovz(1000, 1000, OpenvzProfile());
  ovz.SetShmLimits(10000, 10000);
  Decision over = ovz.Decide(Shmget(1, 60), target, members);
  EXPECT_TRUE(over.refused);
  EXPECT_STREQ(over.resource, "privvmpages");
  EXPECT_EQ(ovz.Peek().privvmpages.failcnt, 1u);
  EXPECT_EQ(ovz.Peek().shmpages.failcnt, 0u);
  EXPECT_EQ(ovz.Peek().shmpages.held_pages, 0u);
  Decision fits = ovz.Decide(Shmget(1, 40), target, members);
  EXPECT_FALSE(fits.refused);
  EXPECT_EQ(ovz.Peek().privvmpages.held_pages, 990u);  // in flight in both
  EXPECT_EQ(ovz.Peek().shmpages.held_pages, 40u);
  // A racing thread sees the first one's segment before it exists.
  members.in_flight = {1};
  EXPECT_TRUE(ovz.Decide(Shmget(2, 20), target, members).refused);
  // Created: the namespace shows it, held once in each counter.
  members.in_flight.clear();
  members.sysv_pages = 40;
  EXPECT_EQ(ovz.Refresh(members).privvmpages.held_pages, 990u);
  EXPECT_EQ(ovz.Peek().shmpages.held_pages, 40u);
  // Shmpages' own barrier still refuses by itself.
  ovz.SetLimits(10000, 10000);
  ovz.SetShmLimits(50, 50);
  Decision shm_over = ovz.Decide(Shmget(3, 20), target, members);
  EXPECT_TRUE(shm_over.refused);
  EXPECT_STREQ(shm_over.resource, "shmpages");
  EXPECT_EQ(ovz.Peek().privvmpages.failcnt, 2u);  // the racer's refusal above
  // Undecidable when the namespace cannot be read.
  members.shm_fail = true;
  EXPECT_TRUE(ovz.Decide(Shmget(4, 1), target, members).undecidable);
}

constexpr uint64_t kMapLocked = 0x2000;
constexpr uint64_t kLockBase = 0x7f0000000000;

TrappedCall Mlock(int tid, uint64_t first_page, uint64_t pages) {
  return Syscall(tid, x86_64_nr::kMlock,
                 {kLockBase + first_page * kPage, pages * kPage, 0, 0, 0, 0});
}

TrappedCall Mlockall(int tid, uint64_t flags) {
  return Syscall(tid, x86_64_nr::kMlockall, {flags, 0, 0, 0, 0, 0});
}

// A process with 200 private writable pages mapped at kLockBase.
void MapLockable(FakeTarget& target) {
  target.maps = {Map(kLockBase, kLockBase + 200 * kPage, true, false)};
}

TEST(ContainerAccountingTest, MlockOverTheLockedBarrierIsRefusedOnLockedpagesOnly) {
  FakeTarget target;
  FakeMembers members;
  MapLockable(target);
  ContainerAccounting acct(10000, 10000, Bc2006Profile());
  acct.SetLockedLimits(100, 100);
  Decision over = acct.Decide(Mlock(1, 0, 150), target, members);
  EXPECT_TRUE(over.refused);
  EXPECT_STREQ(over.resource, "lockedpages");
  EXPECT_EQ(over.error_number, ENOMEM);
  EXPECT_EQ(acct.Peek().lockedpages.failcnt, 1u);
  EXPECT_EQ(acct.Peek().privvmpages.failcnt, 0u);
  EXPECT_EQ(acct.Peek().privvmpages.held_pages, 0u);  // mlock charges no privvmpages
  Decision fits = acct.Decide(Mlock(1, 0, 50), target, members);
  EXPECT_FALSE(fits.refused);
  EXPECT_EQ(fits.action, Decision::Action::kContinue);
  EXPECT_EQ(acct.Peek().lockedpages.held_pages, 50u);  // in flight
  // It ran: the kernel shows it, and locking the same pages again is free.
  members.vm_locked_pages = 50;
  target.locked_pages = 50;
  target.locked_ranges = {{kLockBase, kLockBase + 50 * kPage}};
  EXPECT_FALSE(acct.Decide(Mlock(1, 0, 100), target, members).refused);  // 50 new
  members.vm_locked_pages = 100;
  target.locked_pages = 100;
  target.locked_ranges = {{kLockBase, kLockBase + 100 * kPage}};
  // Only mapped pages lock: a range past the mapping's end charges what is mapped.
  EXPECT_TRUE(acct.Decide(Mlock(1, 99, 2), target, members).refused);
  EXPECT_EQ(acct.Peek().lockedpages.failcnt, 2u);
  EXPECT_EQ(acct.Peek().lockedpages.held_pages, 100u);
  EXPECT_FALSE(acct.Decide(Mlock(1, 0, 100), target, members).refused);
}

TEST(ContainerAccountingTest, Mlock2OnfaultIsChargedAndBadFlagsAreEinval) {
  FakeTarget target;
  FakeMembers members;
  MapLockable(target);
  ContainerAccounting acct(10000, 10000, Bc2006Profile());
  acct.SetLockedLimits(100, 100);
  Decision onfault = acct.Decide(
      Syscall(1, x86_64_nr::kMlock2, {kLockBase, 150 * kPage, 1 /* MLOCK_ONFAULT */, 0, 0, 0}),
      target, members);
  EXPECT_TRUE(onfault.refused);  // the pages count once locked, faulted or not
  EXPECT_STREQ(onfault.resource, "lockedpages");
  Decision bad =
      acct.Decide(Syscall(1, x86_64_nr::kMlock2, {kLockBase, kPage, 2, 0, 0, 0}), target, members);
  EXPECT_FALSE(bad.refused);
  EXPECT_EQ(acct.Peek().lockedpages.failcnt, 1u);
}

TEST(ContainerAccountingTest, UnlimitedLockedpagesReadsNothingOnLockingCalls) {
  FakeTarget target;
  FakeMembers members;
  MapLockable(target);
  ContainerAccounting acct(10000, 10000, Bc2006Profile());
  EXPECT_FALSE(acct.Decide(Mlock(1, 0, 150), target, members).refused);
  EXPECT_FALSE(acct.Decide(Mmap(1, 10, kMapPrivateAnon | kMapLocked), target, members).refused);
  EXPECT_EQ(target.locked_reads, 0);
  EXPECT_EQ(members.locked_reads, 0);
}

TEST(ContainerAccountingTest, ALockedMmapIsChargedToLockedpagesThenPrivvmpages) {
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 90;
  ContainerAccounting acct(100, 100, Bc2006Profile());
  acct.SetLockedLimits(1000, 1000);
  // privvmpages refuses: lockedpages is as if it had never been asked.
  Decision priv = acct.Decide(Mmap(1, 20, kMapPrivateAnon | kMapLocked), target, members);
  EXPECT_TRUE(priv.refused);
  EXPECT_STREQ(priv.resource, "privvmpages");
  EXPECT_EQ(acct.Peek().privvmpages.failcnt, 1u);
  EXPECT_EQ(acct.Peek().lockedpages.failcnt, 0u);
  EXPECT_EQ(acct.Peek().lockedpages.held_pages, 0u);
  // lockedpages refuses first: privvmpages neither charges nor counts a failure.
  acct.SetLockedLimits(5, 5);
  Decision locked = acct.Decide(Mmap(1, 8, kMapPrivateAnon | kMapLocked), target, members);
  EXPECT_TRUE(locked.refused);
  EXPECT_STREQ(locked.resource, "lockedpages");
  EXPECT_EQ(acct.Peek().privvmpages.failcnt, 1u);
  EXPECT_EQ(acct.Peek().lockedpages.failcnt, 1u);
  EXPECT_EQ(acct.Peek().privvmpages.held_pages, 90u);
  // Both admit: both hold it while it is in flight.
  Decision both = acct.Decide(Mmap(1, 4, kMapPrivateAnon | kMapLocked), target, members);
  EXPECT_FALSE(both.refused);
  EXPECT_EQ(acct.Peek().lockedpages.held_pages, 4u);
  EXPECT_EQ(acct.Peek().privvmpages.held_pages, 94u);
  // A read-only locked mapping charges lockedpages alone.
  members.data_pages = 94;
  members.vm_locked_pages = 4;
  EXPECT_TRUE(acct.Decide(Mmap(2, 2, kMapPrivateAnon | kMapLocked, 0), target, members).refused);
  TrappedCall read_only = Mmap(2, 1, kMapPrivateAnon | kMapLocked);
  read_only.args[2] = 1;  // PROT_READ
  EXPECT_FALSE(acct.Decide(read_only, target, members).refused);
  EXPECT_EQ(acct.Peek().lockedpages.held_pages, 5u);
  EXPECT_EQ(acct.Peek().privvmpages.held_pages, 94u);
}

TEST(ContainerAccountingTest, AfterMclFuturePlainMappingsAreChargedAsLocked) {
  FakeTarget target;
  FakeMembers members;
  ContainerAccounting acct(10000, 10000, Bc2006Profile());
  acct.SetLockedLimits(100, 100);
  Decision future = acct.Decide(Mlockall(1, kMclFuture), target, members);
  EXPECT_FALSE(future.refused);
  EXPECT_EQ(future.action, Decision::Action::kContinue);
  EXPECT_FALSE(acct.Decide(Mmap(1, 50), target, members).refused);
  EXPECT_EQ(acct.Peek().lockedpages.held_pages, 50u);
  members.vm_locked_pages = 50;
  Decision over = acct.Decide(Mmap(1, 60), target, members);
  EXPECT_TRUE(over.refused);
  EXPECT_STREQ(over.resource, "lockedpages");
  // Another process of the container is not under MCL_FUTURE.
  members.tgid_of[7] = 7;
  members.by_tgid = {{FakeMembers::kTgid, 0}, {7, 0}};
  EXPECT_FALSE(acct.Decide(Mmap(7, 60), target, members).refused);
  // munlockall ends it. (A call still in flight would show in held.)
  EXPECT_FALSE(acct.Decide(Syscall(1, x86_64_nr::kMunlockall, {}), target, members).refused);
  members.vm_locked_pages = 0;
  members.in_flight = {1};
  EXPECT_FALSE(acct.Decide(Mmap(1, 60), target, members).refused);
  EXPECT_EQ(acct.Refresh(members).lockedpages.held_pages, 0u);
  // So does an exec.
  members.in_flight.clear();
  EXPECT_FALSE(acct.Decide(Mlockall(1, kMclFuture), target, members).refused);
  EXPECT_FALSE(acct.Decide(Execve(1), target, members).refused);
  members.in_flight = {1};
  EXPECT_FALSE(acct.Decide(Mmap(1, 60), target, members).refused);
  EXPECT_EQ(acct.Refresh(members).lockedpages.held_pages, 0u);
  // Under MCL_FUTURE again, the same call is held while in flight.
  members.in_flight.clear();
  EXPECT_FALSE(acct.Decide(Mlockall(1, kMclFuture), target, members).refused);
  members.in_flight = {1};
  EXPECT_FALSE(acct.Decide(Mmap(1, 60), target, members).refused);
  EXPECT_EQ(acct.Refresh(members).lockedpages.held_pages, 60u);
}

TEST(ContainerAccountingTest, ARefusedMlockallCurrentReturnsZeroAndSetsNoFuture) {
  FakeTarget target;
  FakeMembers members;
  target.vm_pages = 300;
  target.locked_pages = 20;
  members.vm_locked_pages = 20;
  ContainerAccounting acct(10000, 10000, Bc2006Profile());
  acct.SetLockedLimits(200, 200);
  Decision all = acct.Decide(Mlockall(1, kMclCurrent | kMclFuture), target, members);
  EXPECT_TRUE(all.refused);
  EXPECT_EQ(all.action, Decision::Action::kReturn);
  EXPECT_EQ(all.return_value, 0u);
  EXPECT_EQ(acct.Peek().lockedpages.failcnt, 1u);
  EXPECT_FALSE(acct.Decide(Mmap(1, 100), target, members).refused);  // not locked
  EXPECT_EQ(acct.Peek().lockedpages.held_pages, 20u);
  // What is mapped and not locked yet is what MCL_CURRENT charges.
  target.vm_pages = 200;
  EXPECT_FALSE(acct.Decide(Mlockall(1, kMclCurrent), target, members).refused);
  EXPECT_EQ(acct.Peek().lockedpages.held_pages, 200u);
}

TEST(ContainerAccountingTest, ShmLockChargesTheSegmentOnce) {
  FakeTarget target;
  FakeMembers members;
  members.segments[7] = ShmSegment{true, 80, false};
  ContainerAccounting acct(10000, 10000, Bc2006Profile());
  acct.SetLockedLimits(50, 50);
  const TrappedCall shm_lock = Syscall(1, x86_64_nr::kShmctl, {7, 11 /* SHM_LOCK */, 0, 0, 0, 0});
  Decision over = acct.Decide(shm_lock, target, members);
  EXPECT_TRUE(over.refused);
  EXPECT_STREQ(over.resource, "lockedpages");
  EXPECT_EQ(over.error_number, ENOMEM);
  members.segments[7].pages = 40;
  EXPECT_FALSE(acct.Decide(shm_lock, target, members).refused);
  // Locked: the namespace shows it, and locking it again charges nothing.
  members.segments[7].locked = true;
  members.sysv_locked_pages = 40;
  EXPECT_FALSE(
      acct.Decide(Syscall(2, x86_64_nr::kShmctl, {7, 11, 0, 0, 0, 0}), target, members).refused);
  EXPECT_EQ(acct.Refresh(members).lockedpages.held_pages, 40u);
  // No such segment: the kernel's EINVAL, nothing charged.
  EXPECT_FALSE(
      acct.Decide(Syscall(3, x86_64_nr::kShmctl, {9, 11, 0, 0, 0, 0}), target, members).refused);
  // Other commands are not locking calls.
  members.segments[7] = ShmSegment{true, 400, false};
  EXPECT_FALSE(acct.Decide(Syscall(3, x86_64_nr::kShmctl, {7, 0 /* IPC_RMID */, 0, 0, 0, 0}),
                           target, members)
                   .refused);
  EXPECT_EQ(acct.Peek().lockedpages.failcnt, 1u);
  members.shm_fail = true;
  EXPECT_TRUE(acct.Decide(Syscall(4, x86_64_nr::kShmctl, {7, 11, 0, 0, 0, 0}), target, members)
                  .undecidable);
}

TEST(ContainerAccountingTest, LockedHeldIsVmLckPlusLockedSegmentsAndUndecidableWhenUnreadable) {
  FakeTarget target;
  FakeMembers members;
  MapLockable(target);
  members.vm_locked_pages = 30;
  members.sysv_locked_pages = 12;
  ContainerAccounting acct(10000, 10000, Bc2006Profile());
  acct.SetLockedLimits(100, 100);
  AccountingSnapshot snap = acct.Refresh(members);
  EXPECT_EQ(snap.lockedpages.held_pages, 42u);
  EXPECT_EQ(snap.lockedpages.maxheld_pages, 42u);
  members.locked_fail = true;
  Decision d = acct.Decide(Mlock(1, 0, 1), target, members);
  EXPECT_TRUE(d.undecidable);
  EXPECT_STREQ(d.resource, "lockedpages");
  EXPECT_EQ(acct.Refresh(members).lockedpages.held_pages, 42u);  // the last known value
}

TEST(ContainerAccountingTest, GrowingALockedMappingWithMremapIsChargedAsLocked) {
  FakeTarget target;
  FakeMembers members;
  MapLockable(target);
  target.locked_pages = 10;
  target.locked_ranges = {{kLockBase, kLockBase + 10 * kPage}};
  members.vm_locked_pages = 10;
  ContainerAccounting acct(10000, 10000, Bc2006Profile());
  acct.SetLockedLimits(50, 50);
  Decision grow = acct.Decide(
      Syscall(1, x86_64_nr::kMremap, {kLockBase, 10 * kPage, 60 * kPage, 1 /* MAYMOVE */, 0, 0}),
      target, members);
  EXPECT_TRUE(grow.refused);
  EXPECT_STREQ(grow.resource, "lockedpages");
  // An unlocked mapping grows without lockedpages.
  Decision plain = acct.Decide(
      Syscall(1, x86_64_nr::kMremap, {kLockBase + 100 * kPage, 10 * kPage, 60 * kPage, 1, 0, 0}),
      target, members);
  EXPECT_FALSE(plain.refused);
  EXPECT_EQ(acct.Peek().lockedpages.failcnt, 1u);
}

TEST(ContainerAccountingTest, MprotectAgainstTheLimitUnderOpenvz) {
  const uint64_t base = 0x7f0000000000;
  FakeTarget target;
  target.maps = {Map(base, base + 200 * kPage, false, false)};
  FakeMembers members;
  members.data_pages = 900;
  TrappedCall call = Syscall(1, x86_64_nr::kMprotect, {base, 200 * kPage, kProtRw, 0, 0, 0});
  ContainerAccounting bc(1000, 1200, Bc2006Profile());
  EXPECT_TRUE(bc.Decide(call, target, members).refused);
  ContainerAccounting ovz(1000, 1200, OpenvzProfile());
  EXPECT_FALSE(ovz.Decide(call, target, members).refused);
}

TEST(ContainerAccountingTest, MapFixedCreditsTheReplacedPrivatePart) {
  ContainerAccounting acc(1000, 1000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 950;
  const uint64_t base = 0x7f0000000000;
  target.maps = {Map(base, base + 100 * kPage, true, false)};
  Decision d = acc.Decide(Mmap(1, 100, kMapPrivateAnon | kMapFixed, base), target, members);
  EXPECT_FALSE(d.refused);
  EXPECT_EQ(d.plan.pages, 0u);
}

TEST(ContainerAccountingTest, NoMapFixedCreditWhileAnotherThreadsMremapMayMoveTheRange) {
  ContainerAccounting acc(1000, 1000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 950;
  const uint64_t base = 0x7f0000000000;
  target.maps = {Map(base, base + 100 * kPage, true, false)};
  // Thread 2 moves the region (same size: nothing to charge) and is still
  // inside the call; thread 1 maps over the region's old place.
  TrappedCall move =
      Syscall(2, x86_64_nr::kMremap, {base, 100 * kPage, 100 * kPage, 1 | 2, base + 0x10000000, 0});
  members.in_flight.insert(2);
  ASSERT_EQ(acc.Decide(move, target, members).action, Decision::Action::kContinue);
  Decision d = acc.Decide(Mmap(1, 100, kMapPrivateAnon | kMapFixed, base), target, members);
  EXPECT_TRUE(d.refused);  // 950 + 100 > 1000: the replaced pages may live on elsewhere
  EXPECT_EQ(d.plan.pages, 100u);
  // Once the mover has made its next call, its mremap is done: the credit is back.
  members.in_flight.clear();
  acc.Decide(Syscall(2, x86_64_nr::kMunmap, {base + 0x20000000, kPage, 0, 0, 0, 0}), target,
             members);
  d = acc.Decide(Mmap(1, 100, kMapPrivateAnon | kMapFixed, base), target, members);
  EXPECT_FALSE(d.refused);
  EXPECT_EQ(d.plan.pages, 0u);
}

TEST(ContainerAccountingTest, NoMapFixedCreditInAProcessWithAnotherThread) {
  // Another thread's mremap may be trapped and waiting behind this decision.
  ContainerAccounting acc(1000, 1000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 950;
  const uint64_t base = 0x7f0000000000;
  target.maps = {Map(base, base + 100 * kPage, true, false)};
  target.threads = 2;
  Decision d = acc.Decide(Mmap(1, 100, kMapPrivateAnon | kMapFixed, base), target, members);
  EXPECT_TRUE(d.refused);
  EXPECT_EQ(d.plan.pages, 100u);
  target.threads = 1;
  d = acc.Decide(Mmap(1, 100, kMapPrivateAnon | kMapFixed, base), target, members);
  EXPECT_FALSE(d.refused);
  EXPECT_EQ(d.plan.pages, 0u);
}

TEST(ContainerAccountingTest, AFinishedMremapSeenAtAnExactReadNoLongerBlocksCredit) {
  ContainerAccounting acc(1000, 1000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 950;
  const uint64_t base = 0x7f0000000000;
  target.maps = {Map(base, base + 100 * kPage, true, false)};
  acc.Decide(Syscall(2, x86_64_nr::kMremap, {base, 100 * kPage, 100 * kPage, 1, 0, 0}), target,
             members);
  // Thread 2 never calls again, but /proc shows it done (not inside the call).
  Decision d = acc.Decide(Mmap(1, 100, kMapPrivateAnon | kMapFixed, base), target, members);
  EXPECT_FALSE(d.refused);
  EXPECT_EQ(d.plan.pages, 0u);
}

TEST(ContainerAccountingTest, ARangeAnMremapIsMovingIsNotHeldTwice) {
  // The kernel maps a moved range's new place before it unmaps the old one:
  // an exact read in that instant sees statm data with the range twice.
  ContainerAccounting acc(1000, 1000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 950;
  const uint64_t base = 0x7f0000000000;
  target.maps = {Map(base, base + 100 * kPage, true, false)};
  members.in_flight.insert(2);
  ASSERT_EQ(acc.Decide(Syscall(2, x86_64_nr::kMremap,
                               {base, 100 * kPage, 100 * kPage, 1 | 2, base + 0x10000000, 0}),
                       target, members)
                .action,
            Decision::Action::kContinue);
  members.data_pages = 1050;
  AccountingSnapshot s = acc.Refresh(members);
  EXPECT_EQ(s.privvmpages.held_pages, 1000u);  // never past the limit for a double count
  EXPECT_EQ(s.privvmpages.maxheld_pages, 950u);
  ContainerAccounting::ImageCheck image = acc.CheckImage(FakeMembers::kTgid, members);
  EXPECT_FALSE(image.over_limit);
  EXPECT_EQ(image.held_pages, 950u);
  // The move done, the kernel's figure is the container's again.
  members.in_flight.clear();
  members.data_pages = 1020;  // a stack grew past the limit unasked: shown as it is
  s = acc.Refresh(members);
  EXPECT_EQ(s.privvmpages.held_pages, 1020u);
  EXPECT_EQ(s.privvmpages.maxheld_pages, 1020u);
}

TEST(ContainerAccountingTest, AnMremapResizingInPlaceDoesNotLowerTheKernelsFigure) {
  ContainerAccounting acc(1000, 1000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 950;
  const uint64_t base = 0x7f0000000000;
  target.maps = {Map(base, base + 100 * kPage, true, false)};
  members.in_flight.insert(2);
  // A shrink with MREMAP_MAYMOVE stays in place: nothing is mapped twice.
  acc.Decide(Syscall(2, x86_64_nr::kMremap, {base, 100 * kPage, 50 * kPage, 1, 0, 0}), target,
             members);
  members.data_pages = 1020;
  AccountingSnapshot s = acc.Refresh(members);
  EXPECT_EQ(s.privvmpages.held_pages, 1020u);
  EXPECT_EQ(s.privvmpages.maxheld_pages, 1020u);
  EXPECT_TRUE(acc.CheckImage(FakeMembers::kTgid, members).over_limit);
}

TEST(ContainerAccountingTest, SharedFileAndReadOnlyMappingsAreNeverCharged) {
  ContainerAccounting acc(10, 10, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 10;
  EXPECT_FALSE(acc.Decide(Mmap(1, 100000, 0x01), target, members).refused);  // MAP_SHARED file
  TrappedCall ro = Mmap(1, 100000);
  ro.args[2] = 1;  // PROT_READ
  EXPECT_FALSE(acc.Decide(ro, target, members).refused);
  EXPECT_EQ(acc.Peek().privvmpages.failcnt, 0u);
}

TEST(ContainerAccountingTest, I386Mmap2IsChargedWithItsOwnNumberAndRegisters) {
  ContainerAccounting acc(100, 100, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 10;
  TrappedCall c =
      Syscall(1, i386_nr::kMmap2, {0, 1000 * kPage, kProtRw, kMapPrivateAnon, ~0ULL, 0});
  c.arch = kAuditArchI386;
  Decision d = acc.Decide(c, target, members);
  EXPECT_TRUE(d.refused);
  EXPECT_EQ(d.error_number, ENOMEM);
  EXPECT_EQ(d.plan.pages, 1000u);
  EXPECT_EQ(acc.Peek().privvmpages.failcnt, 1u);
  // The upper halves of i386 registers are not the call's: 2^32 + 10 pages is 10.
  c.args[1] = (uint64_t{1} << 32) + 10 * kPage;
  d = acc.Decide(c, target, members);
  EXPECT_FALSE(d.refused);
  EXPECT_EQ(d.plan.pages, 10u);
}

TEST(ContainerAccountingTest, I386OldMmapIsRefusedWithoutCountingAFailure) {
  ContainerAccounting acc(100000, 100000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  TrappedCall c = Syscall(1, i386_nr::kOldMmap, {0x10000, 0, 0, 0, 0, 0});
  c.arch = kAuditArchI386;
  Decision d = acc.Decide(c, target, members);
  EXPECT_EQ(d.action, Decision::Action::kFail);
  EXPECT_EQ(d.error_number, ENOSYS);
  EXPECT_FALSE(d.refused);
  EXPECT_EQ(acc.Peek().privvmpages.failcnt, 0u);
}

TEST(ContainerAccountingTest, UnknownArchitectureIsLetThroughWithANote) {
  ContainerAccounting acc(10, 10, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 10;
  TrappedCall c = Mmap(1, 1000);
  c.arch = 0xC00000B7;  // AUDIT_ARCH_AARCH64: the filter admits no such call
  Decision d = acc.Decide(c, target, members);
  EXPECT_EQ(d.action, Decision::Action::kContinue);
  EXPECT_FALSE(d.refused);
  EXPECT_FALSE(d.note.empty());
}

TEST(ContainerAccountingTest, GrowsDownMprotectIsChargedTheWholeMappingAndNeverEstimated) {
  ContainerAccounting acc(100000, 100000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  const uint64_t base = 0x7f0000000000;
  // A read-only MAP_GROWSDOWN mapping of 1000 pages; mprotect of its top page.
  target.maps = {Map(base, base + 1000 * kPage, false, false)};
  constexpr uint64_t kProtGrowsDown = 0x01000000;
  Decision d = acc.Decide(Syscall(1, x86_64_nr::kMprotect,
                                  {base + 999 * kPage, kPage, kProtRw | kProtGrowsDown, 0, 0, 0}),
                          target, members);
  EXPECT_TRUE(d.exact);
  EXPECT_EQ(target.maps_reads, 1);
  EXPECT_EQ(d.plan.pages, 1000u);
  // pkey_mprotect does the same.
  d = acc.Decide(Syscall(1, x86_64_nr::kPkeyMprotect,
                         {base + 999 * kPage, kPage, kProtRw | kProtGrowsDown, 0, 0, 0}),
                 target, members);
  EXPECT_EQ(d.plan.pages, 1000u);
}

TEST(ContainerAccountingTest, VanishedTargetOrUnreadableProcLetsTheCallRun) {
  ContainerAccounting acc(10, 10, Bc2006Profile());
  FakeTarget target;
  target.vanished = true;
  FakeMembers members;
  Decision fork = acc.Decide(Syscall(1, x86_64_nr::kFork, {}), target, members);
  EXPECT_EQ(fork.action, Decision::Action::kContinue);
  members.fail = true;
  Decision mmap = acc.Decide(Mmap(1, 1000), target, members);
  EXPECT_EQ(mmap.action, Decision::Action::kContinue);
  EXPECT_NE(mmap.note.find("/proc unreadable"), std::string::npos);
}

TEST(ContainerAccountingTest, FailClosedRefusesWhatCannotBeDecided) {
  ContainerAccounting acc(10, 10, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.fail = true;
  Decision d = acc.Decide(Mmap(1, 1), target, members);
  EXPECT_TRUE(d.undecidable);
  ApplyOnError(OnError::kEnomem, d);  // the container's on_error, as ubcd applies it
  EXPECT_EQ(d.action, Decision::Action::kFail);
  EXPECT_EQ(d.error_number, ENOMEM);
  EXPECT_FALSE(d.refused);  // not a beancounter refusal
  EXPECT_EQ(acc.Peek().privvmpages.failcnt, 0u);
}

TEST(ContainerAccountingTest, LoweredLimitsApplyToTheNextDecision) {
  ContainerAccounting acc(1000, 1000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 500;
  EXPECT_FALSE(acc.Decide(Mmap(1, 100), target, members).refused);
  acc.SetLimits(400, 400);  // below held: later charges fail, nothing is reclaimed
  members.data_pages = 600;
  EXPECT_TRUE(acc.Decide(Mmap(1, 1), target, members).refused);
}

TEST(ContainerAccountingTest, ARunningThreadsCallCountsOnceTheKernelShowsIt) {
  // Threads 1..3 of one process are admitted 100 pages each, then run off
  // touching their memory: /proc cannot say whether they are still inside.
  ContainerAccounting acc(1000, 1000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 500;
  ASSERT_FALSE(acc.Decide(Mmap(1, 100), target, members).refused);
  ASSERT_FALSE(acc.Decide(Mmap(2, 100), target, members).refused);
  ASSERT_FALSE(acc.Decide(Mmap(3, 100), target, members).refused);
  members.running = {1, 2, 3};
  // Two of the three mappings are in statm: held counts three calls once each.
  members.data_pages = 700;
  AccountingSnapshot s = acc.Refresh(members);
  EXPECT_EQ(s.privvmpages.held_pages, 800u);
  // All three in statm: nothing is counted twice, maxheld never saw a double count.
  members.data_pages = 800;
  s = acc.Refresh(members);
  EXPECT_EQ(s.privvmpages.held_pages, 800u);
  EXPECT_EQ(s.privvmpages.maxheld_pages, 800u);
  // The rest fits exactly.
  EXPECT_FALSE(acc.Decide(Mmap(4, 200), target, members).refused);
}

TEST(ContainerAccountingTest, OutOfOrderCompletionNeverUndercounts) {
  // Thread 1 asks for 10 pages, thread 2 for 100. Thread 2 completes and
  // exits; thread 1 is still on its way into the kernel.
  ContainerAccounting acc(10000, 10000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 500;
  ASSERT_FALSE(acc.Decide(Mmap(1, 10), target, members).refused);
  ASSERT_FALSE(acc.Decide(Mmap(2, 100), target, members).refused);
  members.running = {1};
  members.data_pages = 600;
  EXPECT_EQ(acc.Refresh(members).privvmpages.held_pages, 610u);
  // Thread 1 done too, then its process unmaps 50 pages: statm is the truth again.
  members.running.clear();
  members.data_pages = 560;
  EXPECT_EQ(acc.Refresh(members).privvmpages.held_pages, 560u);
}

TEST(ContainerAccountingTest, ForkChargeCountsUntilTheParentMovesOn) {
  ContainerAccounting acc(10000, 10000, Bc2006Profile());
  FakeTarget target;
  target.data_pages = 300;
  FakeMembers members;
  members.data_pages = 300;
  ASSERT_FALSE(acc.Decide(Syscall(1, x86_64_nr::kFork, {}), target, members).refused);
  members.in_flight = {1};  // still copying the address space
  EXPECT_EQ(acc.Refresh(members).privvmpages.held_pages, 600u);
  members.in_flight.clear();  // the child exists with its own statm
  members.by_tgid = {{1, 300}, {2, 300}};
  members.data_pages = 600;
  EXPECT_EQ(acc.Refresh(members).privvmpages.held_pages, 600u);
}

TEST(ContainerAccountingTest, TheReaderIsToldWhichThreadForkedAtAdmissionAndCompletion) {
  ContainerAccounting acc(10000, 10000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 300;
  ASSERT_FALSE(acc.Decide(Syscall(4, x86_64_nr::kFork, {}), target, members).refused);
  EXPECT_EQ(members.forkers, std::vector<int>{4});  // admitted: the child may appear
  ASSERT_FALSE(acc.Decide(Mmap(4, 1), target, members).refused);
  EXPECT_EQ(members.forkers, (std::vector<int>{4, 4}));  // thread 4 moved on: the fork is done
  ASSERT_FALSE(acc.Decide(Mmap(4, 1), target, members).refused);
  EXPECT_EQ(members.forkers.size(), 2u);  // an mmap's completion makes no process
}

TEST(ContainerAccountingTest, AForkCompletedWhileOthersDecideIsToldOnTheNextExactRead) {
  ContainerAccounting acc(10000, 10000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 300;
  ASSERT_FALSE(acc.Decide(Syscall(4, x86_64_nr::kFork, {}), target, members).refused);
  members.forkers.clear();
  members.in_flight = {4};
  acc.Refresh(members);
  EXPECT_TRUE(members.forkers.empty());  // still copying: no child yet
  members.in_flight.clear();
  acc.Refresh(members);
  EXPECT_EQ(members.forkers, std::vector<int>{4});
}

TEST(ContainerAccountingTest, ACloneParentChildIsLookedForAmongAllMembers) {
  ContainerAccounting acc(10000, 10000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 300;
  constexpr uint64_t kCloneParent = 0x8000, kSigchld = 17;
  ASSERT_FALSE(acc.Decide(Syscall(4, x86_64_nr::kClone, {kCloneParent | kSigchld}), target, members)
                   .refused);
  ASSERT_FALSE(acc.Decide(Mmap(4, 1), target, members).refused);
  EXPECT_EQ(members.forkers, (std::vector<int>{-1, -1}));  // not among thread 4's children
}

// A 3000-page process (thread 1) maps a page and forks in a 10000-page
// container: two copies fit in the estimate's reach (90%), a third does not.
void MapAPageThenFork(ContainerAccounting& acc, FakeTarget& target, FakeMembers& members) {
  members.data_pages = 3000;
  ASSERT_FALSE(acc.Decide(Mmap(1, 1), target, members).refused);  // the first read
  members.data_pages = 3001;                                      // the kernel shows the page
  ASSERT_FALSE(acc.Decide(Syscall(1, x86_64_nr::kFork, {}), target, members).refused);
}

TEST(ContainerAccountingTest, AReapedChildsForkChargeLeavesTheEstimate) {
  ContainerAccounting acc(10000, 10000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  MapAPageThenFork(acc, target, members);
  members.reaped = {1};  // the child exited and was waited for
  Decision d = acc.Decide(Syscall(1, x86_64_nr::kFork, {}), target, members);
  EXPECT_FALSE(d.refused);
  EXPECT_FALSE(d.exact);  // 3001 + 3001: the first child's charge is gone
  EXPECT_EQ(d.held_pages, 3001u);
  EXPECT_EQ(members.samples, 1);
  EXPECT_EQ(members.children_reads, 1);
}

TEST(ContainerAccountingTest, ALivingChildsForkChargeStaysUntilTheExactRead) {
  ContainerAccounting acc(10000, 10000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  MapAPageThenFork(acc, target, members);
  members.by_tgid = {{1, 3001}, {2, 3001}};  // the child lives
  members.data_pages = 6002;
  Decision d = acc.Decide(Syscall(1, x86_64_nr::kFork, {}), target, members);
  EXPECT_TRUE(d.exact);
  EXPECT_EQ(d.held_pages, 6002u);
  EXPECT_EQ(members.children_reads, 1);
}

TEST(ContainerAccountingTest, AForkStillRunningKeepsItsChargeWhateverTheChildrenList) {
  ContainerAccounting acc(10000, 10000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  MapAPageThenFork(acc, target, members);
  members.reaped = {1};  // no child listed yet: it is still being made
  members.in_flight = {1};
  Decision d = acc.Decide(Mmap(2, 3500), target, members);  // another thread
  EXPECT_TRUE(d.exact);
  EXPECT_EQ(members.children_reads, 0);
  EXPECT_EQ(d.held_pages, 6002u);  // 3001 + the fork still on its way
}

TEST(ContainerAccountingTest, ARunningThreadStillInsideItsCallStaysReserved) {
  ContainerAccounting acc(1000, 1000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 500;
  ASSERT_FALSE(acc.Decide(Mmap(1, 400), target, members).refused);
  members.running = {1};  // on a CPU, statm does not show it yet
  Decision d = acc.Decide(Mmap(2, 101), target, members);
  EXPECT_TRUE(d.refused);
  EXPECT_EQ(d.held_pages, 900u);
}

TEST(ContainerAccountingTest, RetireReleasesHeldAndKeepsTheRecord) {
  ContainerAccounting acc(1000, 1000, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 990;
  acc.Decide(Mmap(1, 20), target, members);
  acc.Retire(members);
  AccountingSnapshot s = acc.Peek();
  EXPECT_EQ(s.privvmpages.held_pages, 0u);
  EXPECT_EQ(s.privvmpages.maxheld_pages, 990u);
  EXPECT_EQ(s.privvmpages.failcnt, 1u);
}

}  // namespace
}  // namespace ubc

namespace ubc {
namespace {

TEST(ContainerAccountingTest, PublishesItsCountersAfterEveryDecisionAndRefresh) {
  ContainerAccounting acc(1000, 1100, Bc2006Profile());
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 100;
  EXPECT_EQ(acc.Published().exact_at_ms, 0);
  ASSERT_FALSE(acc.Decide(Mmap(1, 200), target, members).refused);
  AccountingSnapshot after_admit = acc.Published();
  EXPECT_EQ(after_admit.privvmpages.held_pages, 300u);  // the estimate: 100 read + 200 admitted
  EXPECT_GT(after_admit.exact_at_ms, 0);
  EXPECT_EQ(after_admit.reservations, 1u);
  members.data_pages = 1050;
  ASSERT_TRUE(acc.Decide(Mmap(1, 700), target, members).refused);
  EXPECT_EQ(acc.Published().privvmpages.failcnt, 1u);
  members.data_pages = 250;
  (void)acc.Refresh(members);
  EXPECT_EQ(acc.Published().privvmpages.held_pages, 250u);
  acc.SetLimits(500, 600);
  EXPECT_EQ(acc.Published().privvmpages.barrier_pages, 500u);
}

TEST(ContainerAccountingTest, NumprocCountedByUbcdRefusesTasksPastTheLimitWithEagain) {
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 100;
  target.data_pages = 100;
  ContainerAccounting acct(10000, 10000, Bc2006Profile());
  // Unlimited: a thread is let through without reading the tasks.
  const TrappedCall thread = Syscall(1, x86_64_nr::kClone, {0x3d0f00, 0, 0, 0, 0, 0});
  EXPECT_EQ(acct.Decide(thread, target, members).action, Decision::Action::kContinue);
  EXPECT_EQ(members.task_reads, 0);
  acct.SetTaskLimits(4, 4);
  members.tasks = 3;
  Decision ok = acct.Decide(thread, target, members);
  EXPECT_EQ(ok.action, Decision::Action::kContinue);
  EXPECT_STREQ(ok.resource, "numproc");
  members.in_flight = {1};  // still inside clone: its task is not counted yet
  Decision over = acct.Decide(Syscall(2, x86_64_nr::kFork, {}), target, members);
  EXPECT_TRUE(over.refused);
  EXPECT_EQ(over.error_number, EAGAIN);
  EXPECT_STREQ(over.resource, "numproc");
  EXPECT_EQ(acct.Peek().numproc.failcnt, 1u);
  EXPECT_EQ(acct.Peek().numproc.limit_pages, 4u);
  EXPECT_EQ(acct.Peek().privvmpages.failcnt, 0u);  // privvmpages was not asked
  const TrappedCall vfork = Syscall(3, x86_64_nr::kVfork, {});
  EXPECT_TRUE(acct.Decide(vfork, target, members).refused);
  // The clone ran and a task exited: room again.
  members.in_flight.clear();
  members.tasks = 3;
  EXPECT_FALSE(acct.Decide(vfork, target, members).refused);
  EXPECT_EQ(acct.Peek().numproc.failcnt, 2u);
}

TEST(ContainerAccountingTest, AForkPrivvmpagesRefusesTakesItsTaskBack) {
  FakeTarget target;
  FakeMembers members;
  members.data_pages = 600;
  target.data_pages = 600;
  ContainerAccounting acct(1000, 1000, Bc2006Profile());
  acct.SetTaskLimits(3, 3);
  members.tasks = 2;
  members.in_flight = {1};
  Decision fork = acct.Decide(Syscall(1, x86_64_nr::kFork, {}), target, members);
  EXPECT_TRUE(fork.refused);  // 600 + 600 > 1000
  EXPECT_STREQ(fork.resource, "privvmpages");
  EXPECT_EQ(acct.Peek().numproc.failcnt, 0u);
  // The refused fork's task is not in flight: one thread may still be made.
  Decision thread =
      acct.Decide(Syscall(2, x86_64_nr::kClone, {0x3d0f00, 0, 0, 0, 0, 0}), target, members);
  EXPECT_FALSE(thread.refused);
}

}  // namespace
}  // namespace ubc
