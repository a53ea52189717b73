#include "supervisor/notify_responder.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>

#include "core/unique_fd.h"
#include "supervisor/log.h"
#include "tests/unit/fake_notifier.h"
#include "tests/unit/fake_process_view.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

seccomp_notif Call(uint64_t id, int nr, std::array<uint64_t, 6> args) {
  seccomp_notif n{};
  n.id = id;
  n.pid = FakeProcesses::kTgid;
  n.data.arch = kAuditArchX86_64;
  n.data.nr = nr;
  for (int i = 0; i < 6; ++i) n.data.args[i] = args[i];
  return n;
}

seccomp_notif Mmap(uint64_t id, uint64_t pages) {
  return Call(id, x86_64_nr::kMmap, {0, pages * kPageBytes, 3, 0x22, ~0ULL, 0});
}

template <typename Pred>
bool Eventually(Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

class NotifyResponderTest : public ::testing::Test {
 protected:
  NotifyResponderTest() : view_(processes_) {}

  std::shared_ptr<Container> MakeContainer(uint64_t barrier, uint64_t limit,
                                           OnError on_error = OnError::kContinue) {
    auto c = std::make_shared<Container>();
    c->id = "c1";
    c->on_error = on_error;
    c->accounting = std::make_unique<ContainerAccounting>(barrier, limit, Bc2006Profile());
    c->members = view_.Members(1, 0);
    c->notify_fds = 1;
    return c;
  }
  NotifyResponder::Hooks Hooks() {
    return {[this](Container&) { ++refusals_; },
            [this](const std::shared_ptr<Container>&, const std::string& key) {
              std::lock_guard<std::mutex> lock(mu_);
              hung_up_keys_.push_back(key);
            }};
  }
  FakeNotifier* Serve(NotifyResponder& r, std::shared_ptr<Container> c, int slot = -1,
                      bool recovered = false, std::string key = "k") {
    auto owned = std::make_unique<FakeNotifier>();
    FakeNotifier* raw = owned.get();
    r.Serve(std::move(c), std::move(owned), slot, recovered, std::move(key));
    return raw;
  }
  void SetData(uint64_t pages) {
    std::lock_guard<std::mutex> lock(processes_.mu);
    processes_.data_pages = pages;
  }

  FakeProcesses processes_;
  FakeProcessView view_;
  std::atomic<int> refusals_{0};
  std::mutex mu_;
  std::vector<std::string> hung_up_keys_;
};

TEST_F(NotifyResponderTest, ContinueFailAndReturnBecomeTheRightResponses) {
  NotifyResponder r(view_, nullptr, Hooks());
  SetData(100);
  std::shared_ptr<Container> c = MakeContainer(1000, 1000);
  FakeNotifier* n = Serve(r, c);
  n->Push(Mmap(1, 10));
  ASSERT_TRUE(n->WaitForResponses(1));
  SetData(995);
  n->Push(Mmap(2, 950));  // refused: ENOMEM
  ASSERT_TRUE(n->WaitForResponses(2));
  // A brk the barrier refuses returns the break unchanged (a value, no errno).
  n->Push(Call(3, x86_64_nr::kBrk, {0x555555000000 + 400 * kPageBytes, 0, 0, 0, 0, 0}));
  ASSERT_TRUE(n->WaitForResponses(3));
  std::vector<seccomp_notif_resp> got = n->responses();
  EXPECT_EQ(got[0].flags, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
  EXPECT_EQ(got[1].error, -ENOMEM);
  EXPECT_EQ(got[1].flags, 0u);
  EXPECT_EQ(got[2].error, 0);
  EXPECT_EQ(got[2].flags, 0u);
  EXPECT_EQ(static_cast<uint64_t>(got[2].val), 0x555555000000u);  // the fake's start_brk
  EXPECT_EQ(refusals_.load(), 2);
  EXPECT_EQ(c->events.List().size(), 2u);
  r.Stop();
}

// Everything written to stderr (ubcd's log) while `body` runs.
template <typename Body>
std::string StderrOf(Body body) {
  std::fflush(stderr);
  TempDir dir("ubc-responder-log");
  const std::string path = dir.Path("stderr").string();
  UniqueFd file(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  UniqueFd saved(::dup(2));
  ::dup2(file.get(), 2);
  body();
  std::fflush(stderr);
  ::dup2(saved.get(), 2);
  return ReadFileForTest(path);
}

// A container whose /proc cannot be read: each call follows on_error (here
// continue), is counted undecided, and the log says so in at most 10 lines
// per 10 s for the container, not one per call.
TEST_F(NotifyResponderTest, UndecidedCallsFollowOnErrorWithARateLimitedLine) {
  NotifyResponder r(view_, nullptr, Hooks());
  {
    std::lock_guard<std::mutex> lock(processes_.mu);
    processes_.fail = true;
  }
  std::shared_ptr<Container> c = MakeContainer(1000, 1000);
  c->id = "undecided-log-test";
  const std::string log = StderrOf([&] {
    FakeNotifier* n = Serve(r, c);
    for (uint64_t id = 1; id <= 25; ++id) n->Push(Mmap(id, 10));
    ASSERT_TRUE(n->WaitForResponses(25));
    for (const seccomp_notif_resp& got : n->responses()) {
      EXPECT_EQ(got.flags, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
    }
    r.Stop();
  });
  const size_t mmap = static_cast<size_t>(MetricSyscall::kMmap);
  EXPECT_EQ(r.Metrics().decisions[mmap][static_cast<size_t>(MetricVerdict::kUndecided)], 25u);
  size_t lines = 0;
  for (size_t at = 0; (at = log.find("container undecided-log-test: pid", at)) != log.npos; ++at) {
    ++lines;
  }
  EXPECT_EQ(lines, kLimitedLines) << log;
  EXPECT_NE(log.find(" mmap undecided ("), std::string::npos) << log;
  EXPECT_NE(log.find("answered continue as on_error says"), std::string::npos) << log;
}

TEST_F(NotifyResponderTest, MetricsCountEveryDecisionByVerdict) {
  NotifyResponder r(view_, nullptr, Hooks());
  SetData(100);
  FakeNotifier* n = Serve(r, MakeContainer(1000, 1000));
  n->Push(Mmap(1, 10));
  n->Push(Mmap(2, 5000));
  ASSERT_TRUE(n->WaitForResponses(2));
  DecisionMetricsSnapshot m = r.Metrics();
  const size_t mmap = static_cast<size_t>(MetricSyscall::kMmap);
  EXPECT_EQ(m.decisions[mmap][static_cast<size_t>(MetricVerdict::kAllowed)], 1u);
  EXPECT_EQ(m.decisions[mmap][static_cast<size_t>(MetricVerdict::kRefused)], 1u);
  r.Stop();
}

TEST_F(NotifyResponderTest, AHangUpReleasesTheSlotAndCallsTheHookBeforeTheFdCloses) {
  TempDir dir("ubc-responder-test");
  Result<std::unique_ptr<InflightSlots>> slots = InflightSlots::Open(dir.Path("inflight").string());
  ASSERT_TRUE(slots.ok()) << slots.status().message();
  NotifyResponder r(view_, slots->get(), Hooks());
  const int slot = (*slots)->Acquire();
  FakeNotifier* n = Serve(r, MakeContainer(1000, 1000), slot, false, "key-7");
  n->HangUp();
  ASSERT_TRUE(Eventually([&] { return r.Workers() == 0; }));
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(hung_up_keys_, std::vector<std::string>{"key-7"});
  EXPECT_EQ((*slots)->Acquire(), slot);  // free again
}

TEST_F(NotifyResponderTest, TheSlotRecordsTheCallBeingDecidedAndItsEnd) {
  TempDir dir("ubc-responder-test");
  Result<std::unique_ptr<InflightSlots>> slots = InflightSlots::Open(dir.Path("inflight").string());
  ASSERT_TRUE(slots.ok());
  NotifyResponder r(view_, slots->get(), Hooks());
  const int slot = (*slots)->Acquire();
  SetData(10);
  FakeNotifier* n = Serve(r, MakeContainer(1000, 1000), slot);
  n->Push(Mmap(41, 3));
  ASSERT_TRUE(n->WaitForResponses(1));
  ASSERT_TRUE(Eventually([&] { return (*slots)->at(slot).last_id == 41; }));
  EXPECT_EQ((*slots)->at(slot).deciding.load(), 0u);
  EXPECT_EQ((*slots)->at(slot).nr, x86_64_nr::kMmap);
  r.Stop();
}

TEST_F(NotifyResponderTest, ARecoveredFdAnswersWhatThePreviousUbcdLeftUndecided) {
  TempDir dir("ubc-responder-test");
  Result<std::unique_ptr<InflightSlots>> slots = InflightSlots::Open(dir.Path("inflight").string());
  ASSERT_TRUE(slots.ok());
  const int slot = (*slots)->Acquire();
  // The previous ubcd was deciding notification 5 (an mmap) and had received
  // 6 without writing it down when it died.
  InflightSlot& s = (*slots)->at(slot);
  s.id = 5;
  s.last_id = 4;
  s.tid = FakeProcesses::kTgid;
  s.nr = x86_64_nr::kMmap;
  s.arch = kAuditArchX86_64;
  const uint64_t args[6] = {0, 10 * kPageBytes, 3, 0x22, ~0ULL, 0};
  for (int i = 0; i < 6; ++i) s.args[i] = args[i];
  s.deciding.store(1);
  auto owned = std::make_unique<FakeNotifier>();
  FakeNotifier* n = owned.get();
  seccomp_notif sent5 = Mmap(5, 10), sent6 = Mmap(6, 10);
  n->Push(sent5);  // both waiting on the kernel side...
  n->Push(sent6);
  seccomp_notif drop{};  // ...but neither comes out of RECV again
  while (n->Receive(&drop) == Notifier::RecvResult::kNotification && drop.id != 6) {
  }
  SetData(10);
  NotifyResponder r(view_, slots->get(), Hooks());
  r.Serve(MakeContainer(1000, 1000, OnError::kEnomem), std::move(owned), slot, true, "k");
  ASSERT_TRUE(n->WaitForResponses(2));
  std::vector<seccomp_notif_resp> got = n->responses();
  EXPECT_EQ(got[0].id, 5u);
  EXPECT_EQ(got[0].flags, SECCOMP_USER_NOTIF_FLAG_CONTINUE);  // decided again, admitted
  EXPECT_EQ(got[1].id, 6u);
  EXPECT_EQ(got[1].error, -ENOMEM);  // arguments lost: the container's on_error
  r.Stop();
}

TEST_F(NotifyResponderTest, StopInterruptsABlockedReceiveAndJoins) {
  NotifyResponder r(view_, nullptr, Hooks());
  std::atomic<int> interrupts{0};
  FakeNotifier* n = Serve(r, MakeContainer(1000, 1000));
  n->CountInterruptsIn(&interrupts);
  ASSERT_TRUE(Eventually([&] { return r.Workers() == 1; }));
  r.Stop();  // the notifier is gone after this
  EXPECT_GE(interrupts.load(), 1);
  EXPECT_EQ(r.Workers(), 0u);
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_TRUE(hung_up_keys_.empty());  // stopping is not a hang-up: the container stays
}

TEST_F(NotifyResponderTest, NothingIsServedAfterStop) {
  NotifyResponder r(view_, nullptr, Hooks());
  r.Stop();
  FakeNotifier* n = Serve(r, MakeContainer(1000, 1000));
  (void)n;  // destroyed with the worker that never started
  EXPECT_EQ(r.Workers(), 0u);
}

}  // namespace
}  // namespace ubc
