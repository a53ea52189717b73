#include "core/reservation_ledger.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

namespace ubc {
namespace {

// Only what the ledger asks of a reader: Progress, ChildrenReaped and
// ExpectNewProcess. Sampling is the accounting's business.
class FakeMembers : public MemberReader {
 public:
  Status Sample(MembersSample*) override { return Status::Error("not used"); }
  CallProgress Progress(int tid, int, const std::array<uint64_t, 6>&) override {
    auto it = progress.find(tid);
    return it == progress.end() ? CallProgress::kDone : it->second;
  }
  int ThreadGroupOf(int tid) override { return tid; }
  void ExpectNewProcess(int forker_tid) override { expected.push_back(forker_tid); }
  bool ChildrenReaped(int tid) override {
    ++children_reads;
    return reaped.count(tid) != 0;
  }
  std::map<int, CallProgress> progress;
  std::vector<int> expected;
  std::set<int> reaped;
  int children_reads = 0;
};

TrappedCall Call(int tid, int nr = x86_64_nr::kMmap) {
  TrappedCall c;
  c.tid = tid;
  c.nr = nr;
  return c;
}

ChargePlan Plan(uint64_t pages, bool grows_caller_data = true) {
  ChargePlan p;
  p.check = ChargeCheck::kBarrier;
  p.pages = pages;
  p.grows_caller_data = grows_caller_data;
  return p;
}

ClassifiedCall Kind(CallKind kind, bool sibling = false) {
  ClassifiedCall c;
  c.kind = kind;
  c.sibling = sibling;
  return c;
}

MembersSample Sample(std::vector<std::pair<int, uint64_t>> by_tgid) {
  MembersSample s;
  for (const auto& [tgid, data] : by_tgid) s.data_pages = SaturatingAdd(s.data_pages, data);
  s.processes = by_tgid.size();
  s.data_pages_by_tgid = std::move(by_tgid);
  return s;
}

TEST(ReservationLedgerTest, TheEstimateIsTheLastExactValuePlusWhatWasAdmittedSince) {
  ReservationLedger ledger;
  EXPECT_FALSE(ledger.have_exact());
  EXPECT_EQ(ledger.ApplySample(Sample({{1, 100}}), true), 100u);
  EXPECT_TRUE(ledger.have_exact());
  ledger.Reserve(Call(1), Kind(CallKind::kMmapPrivateWritable), Plan(30), 1);
  ledger.AddToEstimate(5);
  EXPECT_EQ(ledger.Estimate(), 135u);
  EXPECT_EQ(ledger.ActiveReservations(), 1u);
}

TEST(ReservationLedgerTest, AnOutstandingCallCountsUntilTheKernelShowsIt) {
  ReservationLedger ledger;
  FakeMembers members;
  ASSERT_EQ(ledger.ApplySample(Sample({{1, 100}}), true), 100u);  // base 100
  ledger.Reserve(Call(1), Kind(CallKind::kMmapPrivateWritable), Plan(50), 1);
  members.progress[1] = CallProgress::kUnknown;  // on a CPU: maybe inside
  std::vector<int> forgotten;
  ledger.ReleaseFinished(members, &forgotten);
  // The kernel shows 20 of the 50 pages so far: the other 30 are added.
  EXPECT_EQ(ledger.ApplySample(Sample({{1, 120}}), true), 150u);
  // All of it in statm: nothing counted twice.
  EXPECT_EQ(ledger.ApplySample(Sample({{1, 150}}), true), 150u);
  // The thread's next call proves the first complete: statm is the truth.
  ledger.CallCompleted(1, members);
  EXPECT_EQ(ledger.ApplySample(Sample({{1, 140}}), true), 140u);
  EXPECT_EQ(ledger.ActiveReservations(), 0u);
}

TEST(ReservationLedgerTest, CallsOfAProcessTheSampleDoesNotListCountInFull) {
  ReservationLedger ledger;
  ledger.Reserve(Call(7), Kind(CallKind::kMmapPrivateWritable), Plan(40), 7);
  EXPECT_EQ(ledger.ApplySample(Sample({{1, 100}}), true), 140u);
}

TEST(ReservationLedgerTest, ACallProcShowsDoneIsReleasedBeforeSampling) {
  ReservationLedger ledger;
  FakeMembers members;
  ASSERT_EQ(ledger.ApplySample(Sample({{1, 100}}), true), 100u);
  ledger.Reserve(Call(1), Kind(CallKind::kMmapPrivateWritable), Plan(50), 1);
  std::vector<int> forgotten;
  ledger.ReleaseFinished(members, &forgotten);  // kDone by default
  EXPECT_EQ(ledger.ActiveReservations(), 0u);
  // Its pages were unmapped meanwhile: statm alone is held.
  EXPECT_EQ(ledger.ApplySample(Sample({{1, 100}}), true), 100u);
}

TEST(ReservationLedgerTest, ThreadsIdleAtTwoExactReadsAreForgotten) {
  ReservationLedger ledger;
  FakeMembers members;
  ledger.Reserve(Call(5), Kind(CallKind::kMmapPrivateWritable), Plan(1), 1);
  ledger.CallCompleted(5, members);
  std::vector<int> forgotten;
  ledger.ReleaseFinished(members, &forgotten);
  EXPECT_TRUE(forgotten.empty());
  EXPECT_TRUE(ledger.KnowsThread(5));
  ledger.ReleaseFinished(members, &forgotten);
  EXPECT_EQ(forgotten, std::vector<int>{5});
  EXPECT_FALSE(ledger.KnowsThread(5));
}

TEST(ReservationLedgerTest, AProcessEstimateIsItsBasePlusWhatWasAdmittedForIt) {
  ReservationLedger ledger;
  uint64_t pages = 0;
  EXPECT_FALSE(ledger.SpaceEstimate(1, &pages));
  ASSERT_EQ(ledger.ApplySample(Sample({{1, 100}, {2, 10}}), true), 110u);
  ledger.Reserve(Call(1), Kind(CallKind::kMmapPrivateWritable), Plan(25), 1);
  ASSERT_TRUE(ledger.SpaceEstimate(1, &pages));
  EXPECT_EQ(pages, 125u);
  EXPECT_TRUE(ledger.HasSpace(2));
  // A fork's charge lands in the child, not in the forker's own data.
  ledger.Reserve(Call(2, x86_64_nr::kFork), Kind(CallKind::kFork), Plan(10, false), 2);
  ASSERT_TRUE(ledger.SpaceEstimate(2, &pages));
  EXPECT_EQ(pages, 10u);
}

TEST(ReservationLedgerTest, ASpaceTheSampleNoLongerListsIsDroppedWhenPruning) {
  ReservationLedger ledger;
  ASSERT_EQ(ledger.ApplySample(Sample({{1, 100}, {2, 10}}), true), 110u);
  ASSERT_EQ(ledger.ApplySample(Sample({{1, 100}}), false), 100u);
  EXPECT_TRUE(ledger.HasSpace(2));  // not pruned: the member set did not change
  ASSERT_EQ(ledger.ApplySample(Sample({{1, 100}}), true), 100u);
  EXPECT_FALSE(ledger.HasSpace(2));
}

TEST(ReservationLedgerTest, ACompletedForkWhoseForkerHasNoChildLeavesTheEstimate) {
  ReservationLedger ledger;
  FakeMembers members;
  ASSERT_EQ(ledger.ApplySample(Sample({{1, 100}}), true), 100u);
  ledger.Reserve(Call(1, x86_64_nr::kFork), Kind(CallKind::kFork), Plan(100, false), 1);
  EXPECT_EQ(ledger.Estimate(), 200u);
  members.reaped = {1};
  // Still running: its child may not be listed yet, the charge stays.
  EXPECT_FALSE(ledger.DropReapedForks(members));
  EXPECT_EQ(members.children_reads, 0);
  ledger.CallCompleted(1, members);
  EXPECT_EQ(members.expected, std::vector<int>{1});  // the child is to be found
  EXPECT_TRUE(ledger.DropReapedForks(members));
  EXPECT_EQ(ledger.Estimate(), 100u);
  EXPECT_FALSE(ledger.HasForks());
}

TEST(ReservationLedgerTest, ACompletedForkWithALiveChildStays) {
  ReservationLedger ledger;
  FakeMembers members;
  ASSERT_EQ(ledger.ApplySample(Sample({{1, 100}}), true), 100u);
  ledger.Reserve(Call(1, x86_64_nr::kFork), Kind(CallKind::kFork), Plan(100, false), 1);
  ledger.CallCompleted(1, members);
  EXPECT_FALSE(ledger.DropReapedForks(members));
  EXPECT_EQ(ledger.Estimate(), 200u);
}

TEST(ReservationLedgerTest, ACloneParentForkIsNotTrackedByItsForker) {
  // Its child is the caller's sibling: its charge stays until the next exact read.
  ReservationLedger ledger;
  FakeMembers members;
  ASSERT_EQ(ledger.ApplySample(Sample({{1, 100}}), true), 100u);
  ledger.Reserve(Call(1, x86_64_nr::kClone), Kind(CallKind::kFork, true), Plan(100, false), 1);
  EXPECT_FALSE(ledger.HasForks());
  ledger.CallCompleted(1, members);
  EXPECT_EQ(members.expected, std::vector<int>{-1});  // list the members afresh
}

TEST(ReservationLedgerTest, ClearForgetsEverything) {
  ReservationLedger ledger;
  ASSERT_EQ(ledger.ApplySample(Sample({{1, 100}}), true), 100u);
  ledger.Reserve(Call(1), Kind(CallKind::kMmapPrivateWritable), Plan(5), 1);
  ledger.Clear();
  EXPECT_EQ(ledger.Estimate(), 0u);
  EXPECT_EQ(ledger.ActiveReservations(), 0u);
  EXPECT_FALSE(ledger.HasSpace(1));
}

}  // namespace
}  // namespace ubc
