#include "supervisor/exec_watcher.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "tests/unit/test_support.h"

namespace ubc {
namespace {

// Collects the events the watcher's thread reports.
struct Seen {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<ExecEvent> events;
  bool WaitFor(int tgid) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(5), [&] {
      for (const ExecEvent& e : events) {
        if (e.tgid == tgid) return true;
      }
      return false;
    });
  }
};

int ForkExecTrue() {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/true", "true", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

TEST(ExecWatcherTest, ReportsTheExecOfAChild) {
  UBC_REQUIRE_ROOT();
  Result<std::unique_ptr<ExecWatcher>> watcher = ExecWatcher::Open();
  ASSERT_TRUE(watcher.ok()) << watcher.status().message();
  EXPECT_GE((*watcher)->receive_buffer_bytes(), 1 << 20);  // bursts fit
  Seen seen;
  (*watcher)->Start(
      [&](const ExecEvent& e) {
        std::lock_guard<std::mutex> lock(seen.mu);
        seen.events.push_back(e);
        seen.cv.notify_all();
      },
      [] {});
  const int pid = ForkExecTrue();
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(seen.WaitFor(pid));
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  {
    std::lock_guard<std::mutex> lock(seen.mu);
    for (const ExecEvent& e : seen.events) {
      if (e.tgid == pid) {
        EXPECT_EQ(e.tid, pid);  // a single-threaded exec
      }
    }
  }
  EXPECT_GE((*watcher)->events(), 1u);
  EXPECT_EQ((*watcher)->overruns(), 0u);
  (*watcher)->Stop();  // wakes and joins the thread
}

TEST(ExecWatcherTest, StopsPromptlyWithoutEventsAndTwice) {
  UBC_REQUIRE_ROOT();
  Result<std::unique_ptr<ExecWatcher>> watcher = ExecWatcher::Open();
  ASSERT_TRUE(watcher.ok()) << watcher.status().message();
  (*watcher)->Start([](const ExecEvent&) {}, [] {});
  const auto start = std::chrono::steady_clock::now();
  (*watcher)->Stop();
  (*watcher)->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(ExecWatcherTest, WithoutCapNetAdminOpeningFailsWithAReason) {
  UBC_REQUIRE_ROOT();
  // In a child that gives up its capabilities (the watcher's own process
  // keeps them for the other tests).
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipe_fds[0]);
    // Real and effective uid 65534: every capability goes.
    if (::setresuid(65534, 65534, 65534) != 0) ::_exit(2);
    Result<std::unique_ptr<ExecWatcher>> w = ExecWatcher::Open();
    const char verdict = w.ok() ? 'o' : (w.status().error_number() == EPERM ? 'p' : 'e');
    ::_exit(::write(pipe_fds[1], &verdict, 1) == 1 ? 0 : 3);
  }
  ::close(pipe_fds[1]);
  char verdict = 0;
  EXPECT_EQ(::read(pipe_fds[0], &verdict, 1), 1);
  ::close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_EQ(verdict, 'p');  // EPERM, said as such: ubcd logs it and goes on
}

}  // namespace
}  // namespace ubc
