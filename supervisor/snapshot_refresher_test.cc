#include "supervisor/snapshot_refresher.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/unit/fake_process_view.h"

namespace ubc {
namespace {

class SnapshotRefresherTest : public ::testing::Test {
 protected:
  SnapshotRefresherTest() : view_(processes_) {}
  std::shared_ptr<Container> MakeContainer() {
    auto c = std::make_shared<Container>();
    c->id = "c1";
    c->accounting = std::make_unique<ContainerAccounting>(1000, 1000, Bc2006Profile());
    c->members = view_.Members(1, 0);
    c->notify_fds = 1;
    return c;
  }
  void SetData(uint64_t pages) {
    std::lock_guard<std::mutex> lock(processes_.mu);
    processes_.data_pages = pages;
  }
  int Samples() {
    std::lock_guard<std::mutex> lock(processes_.mu);
    return processes_.samples;
  }
  FakeProcesses processes_;
  FakeProcessView view_;
};

TEST_F(SnapshotRefresherTest, AStaleContainerIsReadAgainBeforeFreshenReturns) {
  SnapshotRefresher refresher;
  std::shared_ptr<Container> c = MakeContainer();
  SetData(123);
  EXPECT_EQ(c->accounting->Published().privvmpages.held_pages, 0u);
  refresher.Freshen({c});
  EXPECT_EQ(c->accounting->Published().privvmpages.held_pages, 123u);
  EXPECT_GT(c->accounting->Published().exact_at_ms, 0);
}

TEST_F(SnapshotRefresherTest, AFreshContainerIsNotReadAgain) {
  SnapshotRefresher refresher;
  std::shared_ptr<Container> c = MakeContainer();
  refresher.Freshen({c});
  const int after_first = Samples();
  for (int i = 0; i < 20; ++i) refresher.Freshen({c});
  // Within kFreshMs of the first read no reader causes another.
  EXPECT_LE(Samples(), after_first + 1);
}

TEST_F(SnapshotRefresherTest, ARetiredContainerIsNeverRead) {
  SnapshotRefresher refresher;
  std::shared_ptr<Container> c = MakeContainer();
  c->notify_fds = 0;
  refresher.Freshen({c});
  EXPECT_EQ(Samples(), 0);
}

TEST_F(SnapshotRefresherTest, AReaderWaitsBoundedlyForADecisionInProgress) {
  SnapshotRefresher refresher;
  std::shared_ptr<Container> c = MakeContainer();
  // A refresh that cannot finish soon (its reader blocks on this mutex)
  // delays the status reader by at most kWaitMs.
  std::unique_lock<std::mutex> stuck(processes_.mu);
  const auto start = std::chrono::steady_clock::now();
  refresher.Freshen({c});
  const auto waited = std::chrono::steady_clock::now() - start;
  stuck.unlock();
  EXPECT_LT(waited, std::chrono::milliseconds(SnapshotRefresher::kWaitMs * 4));
  refresher.Stop();
}

TEST_F(SnapshotRefresherTest, StopReturnsAndLaterRequestsReturnAtOnce) {
  SnapshotRefresher refresher;
  refresher.Stop();
  std::shared_ptr<Container> c = MakeContainer();
  refresher.Freshen({c});
  EXPECT_EQ(Samples(), 0);
}

}  // namespace
}  // namespace ubc
