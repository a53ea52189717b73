#include "supervisor/supervisor.h"

#include <gtest/gtest.h>
#include <linux/seccomp.h>
#include <stdlib.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "core/schema_validator.h"
#include "tests/unit/fake_notifier.h"
#include "tests/unit/fake_process_view.h"

namespace ubc {
namespace {

constexpr uint32_t kAuditArchX86_64Value = 0xC000003E;
constexpr uint64_t kPage = 4096;

seccomp_notif Mmap(uint64_t id, uint64_t pages) {
  seccomp_notif n{};
  n.id = id;
  n.pid = FakeProcesses::kTgid;
  n.data.arch = kAuditArchX86_64Value;
  n.data.nr = 9;  // mmap
  n.data.args[1] = pages * kPage;
  n.data.args[2] = 3;     // PROT_READ | PROT_WRITE
  n.data.args[3] = 0x22;  // MAP_PRIVATE | MAP_ANONYMOUS
  n.data.args[4] = ~0ULL;
  return n;
}

ContainerProcessState State(const std::string& id, const std::string& privvmpages,
                            const std::string& on_error = "") {
  ContainerProcessState s;
  s.id = id;
  s.status = "creating";
  s.pid = 4242;
  s.annotations["ubc.privvmpages"] = privvmpages;
  if (!on_error.empty()) s.annotations["ubc.on_error"] = on_error;
  return s;
}

SupervisorConfig Config() {
  Result<SupervisorConfig> c = DefaultSupervisorConfig();
  EXPECT_TRUE(c.ok()) << c.status().message();
  SupervisorConfig config = *c;
  config.retire_after_seconds = 60;
  return config;
}

// Waits (at most 10 s) for `done()`.
template <typename Pred>
bool Eventually(Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

class SupervisorTest : public ::testing::Test {
 protected:
  SupervisorTest() : view_(processes_) {}
  std::unique_ptr<Supervisor> Make(std::string state_path = "") {
    Supervisor::Parts parts;
    parts.view = &view_;
    parts.state_path = std::move(state_path);
    auto s = std::make_unique<Supervisor>(Config(), std::move(parts));
    s->Start();
    return s;
  }
  // Attaches a fake notifier for `state`; the supervisor owns it, the test
  // keeps a pointer to script it (valid until the supervisor stops).
  FakeNotifier* Attach(Supervisor& s, const ContainerProcessState& state) {
    auto owned = std::make_unique<FakeNotifier>();
    FakeNotifier* raw = owned.get();
    s.Attach(state, std::move(owned), -1, 0);
    return raw;
  }
  void SetData(uint64_t pages) {
    std::lock_guard<std::mutex> lock(processes_.mu);
    processes_.data_pages = pages;
  }
  FakeProcesses processes_;
  FakeProcessView view_;
};

TEST_F(SupervisorTest, DecidesScriptedNotificationsAndAnswersEachOnce) {
  std::unique_ptr<Supervisor> s = Make();
  SetData(100);
  FakeNotifier* n = Attach(*s, State("c1", "1000:1100"));
  n->Push(Mmap(1, 200));
  ASSERT_TRUE(n->WaitForResponses(1));
  SetData(900);
  n->Push(Mmap(2, 650));  // beyond the estimate's reach: decided on the exact 900
  ASSERT_TRUE(n->WaitForResponses(2));
  auto responses = n->responses();
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].id, 1u);
  EXPECT_EQ(responses[0].flags, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
  EXPECT_EQ(responses[1].id, 2u);
  EXPECT_EQ(responses[1].flags, 0u);
  EXPECT_EQ(responses[1].error, -ENOMEM);

  std::optional<ContainerReport> report = s->GetContainer("c1");
  ASSERT_TRUE(report.has_value());
  EXPECT_FALSE(report->retired);
  EXPECT_EQ(report->notify_fds, 1);
  EXPECT_EQ(report->privvmpages.failcnt, 1u);
  EXPECT_EQ(report->privvmpages.barrier_pages, 1000u);
  std::optional<std::vector<RefusalEvent>> events = s->Events("c1");
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].requested_pages, 650u);
  EXPECT_EQ(s->Metrics().decisions[0][1], 1u);  // mmap, refused

  n->HangUp();
  ASSERT_TRUE(Eventually([&] { return s->NotifyThreads() == 0; }));
  report = s->GetContainer("c1");
  ASSERT_TRUE(report.has_value());
  EXPECT_TRUE(report->retired);
  EXPECT_EQ(report->privvmpages.held_pages, 0u);
  EXPECT_EQ(report->privvmpages.failcnt, 1u);
  s->Stop();
}

TEST_F(SupervisorTest, StopJoinsThreadsBlockedInReceive) {
  std::unique_ptr<Supervisor> s = Make();
  FakeNotifier* a = Attach(*s, State("c1", "1000"));
  FakeNotifier* b = Attach(*s, State("c2", "1000"));
  ASSERT_TRUE(Eventually([&] { return s->NotifyThreads() == 2; }));
  (void)a;
  (void)b;
  s->Stop();  // returns only once every worker is joined
  EXPECT_EQ(s->NotifyThreads(), 0u);
  s.reset();
}

TEST_F(SupervisorTest, TwoNotifyFdsOfOneIdShareOneBeancounter) {
  std::unique_ptr<Supervisor> s = Make();
  SetData(100);
  FakeNotifier* init = Attach(*s, State("c1", "1000"));
  FakeNotifier* exec = Attach(*s, State("c1", "1000"));
  EXPECT_EQ(processes_.members_made, 1);
  ASSERT_TRUE(s->GetContainer("c1").has_value());
  EXPECT_EQ(s->GetContainer("c1")->notify_fds, 2);
  exec->HangUp();
  ASSERT_TRUE(Eventually([&] { return s->NotifyThreads() == 1; }));
  EXPECT_FALSE(s->GetContainer("c1")->retired);
  init->Push(Mmap(7, 950));  // 100 + 950 > 1000: the same counter refuses
  ASSERT_TRUE(init->WaitForResponses(1));
  EXPECT_EQ(init->responses()[0].error, -ENOMEM);
  s->Stop();
}

TEST_F(SupervisorTest, AnUndecidableCallFollowsTheContainersOnError) {
  std::unique_ptr<Supervisor> s = Make();
  {
    std::lock_guard<std::mutex> lock(processes_.mu);
    processes_.fail = true;
  }
  FakeNotifier* open = Attach(*s, State("open", "1000"));
  FakeNotifier* closed = Attach(*s, State("closed", "1000", "enomem"));
  open->Push(Mmap(1, 10));
  closed->Push(Mmap(1, 10));
  ASSERT_TRUE(open->WaitForResponses(1));
  ASSERT_TRUE(closed->WaitForResponses(1));
  EXPECT_EQ(open->responses()[0].flags, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
  EXPECT_EQ(closed->responses()[0].error, -ENOMEM);
  // Not refusals by the beancounter: failcnt stays.
  EXPECT_EQ(s->GetContainer("closed")->privvmpages.failcnt, 0u);
  s->Stop();
}

TEST_F(SupervisorTest, AnExceptionWhileDecidingIsAnsweredAndTheThreadGoesOn) {
  std::unique_ptr<Supervisor> s = Make();
  {
    std::lock_guard<std::mutex> lock(processes_.mu);
    processes_.throw_in_sample = true;
  }
  FakeNotifier* n = Attach(*s, State("c1", "1000", "enomem"));
  n->Push(Mmap(1, 10));
  ASSERT_TRUE(n->WaitForResponses(1));
  EXPECT_EQ(n->responses()[0].error, -ENOMEM);
  {
    std::lock_guard<std::mutex> lock(processes_.mu);
    processes_.throw_in_sample = false;
    processes_.data_pages = 10;
  }
  n->Push(Mmap(2, 10));
  ASSERT_TRUE(n->WaitForResponses(2));
  EXPECT_EQ(n->responses()[1].flags, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
  s->Stop();
}

TEST_F(SupervisorTest, ACallerThatVanishedIsSkippedWithoutHarm) {
  std::unique_ptr<Supervisor> s = Make();
  SetData(10);
  FakeNotifier* n = Attach(*s, State("c1", "1000"));
  n->Push(Mmap(1, 10), /*withdrawn=*/true);  // killed while waiting: nobody to answer
  n->Push(Mmap(2, 10));
  ASSERT_TRUE(n->WaitForResponses(1));
  EXPECT_EQ(n->responses()[0].id, 2u);
  s->Stop();
}

TEST_F(SupervisorTest, StatusJsonIsTheRestContainersDocument) {
  std::unique_ptr<Supervisor> s = Make();
  SetData(10);
  FakeNotifier* n = Attach(*s, State("c1", "1000:1100"));
  n->Push(Mmap(1, 10));
  ASSERT_TRUE(n->WaitForResponses(1));
  const nlohmann::json doc = nlohmann::json::parse(s->StatusJson());
  auto v = SchemaValidator::Create("rest-containers.schema.json");
  ASSERT_TRUE(v.ok()) << v.status().message();
  Status valid = (*v)->Validate(doc, "ubcd --status --json");
  EXPECT_TRUE(valid.ok()) << valid.message();
  ASSERT_EQ(doc["containers"].size(), 1u);
  EXPECT_EQ(doc["containers"][0]["beancounters"]["privvmpages"]["limit"]["pages"], 1100);
  EXPECT_NE(s->StatusText().find("privvmpages"), std::string::npos);
  s->Stop();
}

TEST_F(SupervisorTest, ARefusalIsWrittenToTheStateFile) {
  char dir_template[] = "/tmp/ubc-supervisor-test-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string path = dir + "/state.json";
  {
    std::unique_ptr<Supervisor> s = Make(path);
    SetData(990);
    FakeNotifier* n = Attach(*s, State("c1", "1000"));
    n->Push(Mmap(1, 20));
    ASSERT_TRUE(n->WaitForResponses(1));
    s->Stop();  // writes one last time
  }
  PersistedState state = ReadStateFile(path);
  ASSERT_EQ(state.count("c1"), 1u);
  EXPECT_EQ(state["c1"].failcnt, 1u);
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

TEST_F(SupervisorTest, TheProcViewShowsAContainerItsOwnFiguresAndOthersTheHost) {
  auto s = Make();
  FakeNotifier* n = Attach(*s, State("view-c1", "1024:1024"));
  SetData(100);
  n->Push(Mmap(1, 8));
  ASSERT_TRUE(n->WaitForResponses(1));
  // A thread of the container (the fake's member tgid): its barrier.
  const ProcViewContent meminfo = s->ProcViewText(ProcViewFile::kMeminfo, FakeProcesses::kTgid);
  EXPECT_TRUE(meminfo.container);
  EXPECT_EQ(meminfo.text.rfind("MemTotal:           4096 kB\n", 0), 0u)
      << meminfo.text.substr(0, 200);
  const ProcViewContent table =
      s->ProcViewText(ProcViewFile::kUserBeancounters, FakeProcesses::kTgid);
  EXPECT_TRUE(table.container);
  EXPECT_NE(table.text.find("view-c1:"), std::string::npos) << table.text;
  EXPECT_NE(table.text.find("privvmpages"), std::string::npos);
  // Anyone else: the host's /proc/meminfo, and a table of no container,
  // whose sizes the kernel must not keep for the container's next reader.
  const ProcViewContent host = s->ProcViewText(ProcViewFile::kMeminfo, FakeProcesses::kTgid + 1);
  EXPECT_FALSE(host.container);
  EXPECT_EQ(host.text.rfind("MemTotal:", 0), 0u);
  EXPECT_EQ(host.text.find("MemTotal:           4096 kB"), std::string::npos);
  const ProcViewContent none =
      s->ProcViewText(ProcViewFile::kUserBeancounters, FakeProcesses::kTgid + 1);
  EXPECT_FALSE(none.container);
  EXPECT_EQ(none.text.rfind("Version: 2.5\n", 0), 0u);
  EXPECT_EQ(none.text.find("view-c1"), std::string::npos);
  s->Stop();
}

}  // namespace
}  // namespace ubc
