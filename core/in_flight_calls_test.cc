#include "core/in_flight_calls.h"

#include <gtest/gtest.h>

#include <set>

namespace ubc {
namespace {

class FakeProgress : public MemberReader {
 public:
  Status Sample(MembersSample*) override { return Status::Ok(); }
  CallProgress Progress(int tid, int, const std::array<uint64_t, 6>&) override {
    return inside.count(tid) ? CallProgress::kInside : CallProgress::kDone;
  }
  int ThreadGroupOf(int tid) override { return tid; }
  void ExpectNewProcess(int) override {}
  bool ChildrenReaped(int) override { return false; }
  std::set<int> inside;
};

TrappedCall Call(int tid) {
  TrappedCall c;
  c.tid = tid;
  c.nr = 9;
  return c;
}

TEST(InFlightCalls, OnePerThreadUntilItsNextCallOrUntilProcShowsItDone) {
  InFlightCalls calls;
  FakeProgress members;
  members.inside = {1, 2, 3};
  calls.Add(Call(1), 10);
  calls.Add(Call(2), 20);
  calls.Add(Call(2), 5);  // the thread's newer call replaces its older one
  calls.Add(Call(3), UINT64_MAX);
  EXPECT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls.Total(), UINT64_MAX);  // saturating
  calls.Erase(3);
  EXPECT_EQ(calls.Total(), 15u);
  members.inside = {};
  calls.Prune(members, /*keep_tid=*/2);
  EXPECT_EQ(calls.size(), 1u);  // 2 is being decided: kept
  EXPECT_EQ(calls.Total(), 5u);
  calls.Prune(members);
  EXPECT_EQ(calls.size(), 0u);
  calls.Add(Call(4), 1);
  calls.Clear();
  EXPECT_EQ(calls.Total(), 0u);
  calls.Erase(9);  // nothing to erase
}

}  // namespace
}  // namespace ubc
