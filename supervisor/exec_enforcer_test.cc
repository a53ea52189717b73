#include "supervisor/exec_enforcer.h"

#include <gtest/gtest.h>
#include <signal.h>

#include "tests/unit/fake_process_view.h"

namespace ubc {
namespace {

// What the enforcer did to the one fake process.
struct PinLog {
  int pins = 0;
  int kills = 0;
  bool gone = false;           // Pin() fails
  int image_checks_left = 99;  // StillThatImage() is true this many times
};

class FakePin : public PinnedImage {
 public:
  FakePin(int tgid, PinLog& log) : tgid_(tgid), log_(log) {}
  int tgid() const override { return tgid_; }
  const std::string& comm() const override { return comm_; }
  bool StillThatImage() const override { return log_.image_checks_left-- > 0; }
  Status Kill() const override {
    ++log_.kills;
    return Status::Ok();
  }

 private:
  int tgid_;
  PinLog& log_;
  std::string comm_ = "ubc-bss-24m";
};

SupervisorConfig Config() {
  Result<SupervisorConfig> c = DefaultSupervisorConfig();
  EXPECT_TRUE(c.ok());
  return *c;
}

class ExecEnforcerTest : public ::testing::Test {
 protected:
  ExecEnforcerTest()
      : view_(processes_),
        registry_(Config(), view_, {}),
        enforcer_(
            registry_, view_,
            [this](int tgid) -> Result<std::unique_ptr<PinnedImage>> {
              ++pin_.pins;
              if (pin_.gone) return Status::FromErrno(ESRCH, "pidfd_open");
              return std::unique_ptr<PinnedImage>(std::make_unique<FakePin>(tgid, pin_));
            },
            [this](Container&) { ++recorded_; }) {
    ContainerProcessState s;
    s.id = "c1";
    s.pid = 4242;
    s.annotations["ubc.privvmpages"] = "8192:10240";
    container_ = registry_.Attach(s, 1, false);
  }
  ExecEvent Exec(int tgid = FakeProcesses::kTgid) { return ExecEvent{tgid, tgid}; }
  void Hold(uint64_t pages) {
    std::lock_guard<std::mutex> lock(processes_.mu);
    processes_.data_pages = pages;
  }

  FakeProcesses processes_;
  FakeProcessView view_;
  ContainerRegistry registry_;
  PinLog pin_;
  int recorded_ = 0;
  ExecEnforcer enforcer_;
  std::shared_ptr<Container> container_;
};

TEST_F(ExecEnforcerTest, AnImageOverTheLimitIsKilledCountedAndRecorded) {
  Hold(13144);
  enforcer_.OnExec(Exec());
  EXPECT_EQ(pin_.kills, 1);
  EXPECT_EQ(enforcer_.kills(), 1u);
  EXPECT_EQ(container_->accounting->Published().privvmpages.failcnt, 1u);
  std::vector<RefusalEvent> events = container_->events.List();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].pid, FakeProcesses::kTgid);
  EXPECT_EQ(events[0].comm, "ubc-bss-24m");
  EXPECT_EQ(events[0].syscall, "execve");
  EXPECT_EQ(events[0].checked, ChargeCheck::kLimit);
  EXPECT_EQ(events[0].bound_pages, 10240u);
  EXPECT_EQ(events[0].held_pages, 13144u);
  EXPECT_EQ(events[0].signal_number, SIGKILL);
  EXPECT_EQ(recorded_, 1);
}

TEST_F(ExecEnforcerTest, AnImageWithinTheLimitRuns) {
  Hold(10240);
  enforcer_.OnExec(Exec());
  EXPECT_EQ(enforcer_.checks(), 1u);
  EXPECT_EQ(pin_.kills, 0);
  EXPECT_EQ(container_->accounting->Published().privvmpages.failcnt, 0u);
  EXPECT_TRUE(container_->events.List().empty());
}

TEST_F(ExecEnforcerTest, AProcessOfNoContainerIsNeitherPinnedNorChecked) {
  Hold(13144);
  const int samples = processes_.samples;
  enforcer_.OnExec(Exec(FakeProcesses::kTgid + 1));
  EXPECT_EQ(pin_.pins, 0);
  EXPECT_EQ(enforcer_.checks(), 0u);
  EXPECT_EQ(processes_.samples, samples);  // no exact read of any container
  EXPECT_EQ(processes_.located, 1);        // one look at the process
}

TEST_F(ExecEnforcerTest, AProcessGoneBeforeItIsPinnedIsLeftAlone) {
  Hold(13144);
  pin_.gone = true;
  enforcer_.OnExec(Exec());
  EXPECT_EQ(enforcer_.checks(), 0u);
  EXPECT_EQ(container_->accounting->Published().privvmpages.failcnt, 0u);
}

TEST_F(ExecEnforcerTest, AProcessRunningAnotherImageByTheKillIsNotKilled) {
  Hold(13144);
  pin_.image_checks_left = 1;  // the same image when pinned, another by the kill
  enforcer_.OnExec(Exec());
  EXPECT_EQ(pin_.kills, 0);
  EXPECT_EQ(enforcer_.kills(), 0u);
  // The container did go over its limit: counted and recorded, not killed.
  EXPECT_EQ(container_->accounting->Published().privvmpages.failcnt, 1u);
  ASSERT_EQ(container_->events.List().size(), 1u);
  EXPECT_EQ(container_->events.List()[0].signal_number, 0);
}

TEST_F(ExecEnforcerTest, LostEventsGiveEveryRunningContainerOneExactRead) {
  Hold(5000);
  const int samples = processes_.samples;
  enforcer_.OnEventsLost();
  EXPECT_EQ(processes_.samples, samples + 1);
  EXPECT_EQ(container_->accounting->Published().privvmpages.held_pages, 5000u);
  EXPECT_EQ(pin_.kills, 0);
}

}  // namespace
}  // namespace ubc
