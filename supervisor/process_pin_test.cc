#include "supervisor/process_pin.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

namespace ubc {
namespace {

std::string Comm(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

// A child that waits for a byte on a pipe, then execs sleep.
struct Child {
  Child() {
    if (::pipe(go) != 0) return;
    pid = ::fork();
    if (pid == 0) {
      ::close(go[1]);
      char c;
      if (::read(go[0], &c, 1) == 1) {
        ::execl("/bin/sleep", "sleep", "10", static_cast<char*>(nullptr));
      }
      ::_exit(0);
    }
    ::close(go[0]);
  }
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    ::close(go[1]);
  }
  void Exec() {
    const char c = 'x';
    ASSERT_EQ(::write(go[1], &c, 1), 1);
    for (int i = 0; i < 500 && Comm(pid) != "sleep"; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  int Reap() {
    int status = 0;
    if (::waitpid(pid, &status, 0) == pid) pid = -1;
    return status;
  }
  int go[2] = {-1, -1};
  int pid = -1;
};

TEST(ProcessPinTest, KillsThePinnedProcess) {
  Child child;
  ASSERT_GT(child.pid, 0);
  Result<std::unique_ptr<ProcessPin>> pin = ProcessPin::Pin(child.pid);
  ASSERT_TRUE(pin.ok()) << pin.status().message();
  EXPECT_EQ((*pin)->tgid(), child.pid);
  EXPECT_EQ((*pin)->comm(), Comm(child.pid));
  EXPECT_TRUE((*pin)->StillThatImage());
  ASSERT_TRUE((*pin)->Kill().ok());
  const int status = child.Reap();
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  // Gone (and reaped): neither the image nor a signal reaches anything.
  EXPECT_FALSE((*pin)->StillThatImage());
  EXPECT_FALSE((*pin)->Kill().ok());
}

TEST(ProcessPinTest, ANewImageIsNotThePinnedOne) {
  Child child;
  ASSERT_GT(child.pid, 0);
  Result<std::unique_ptr<ProcessPin>> pin = ProcessPin::Pin(child.pid);
  ASSERT_TRUE(pin.ok()) << pin.status().message();
  child.Exec();
  ASSERT_EQ(Comm(child.pid), "sleep");
  // start_brk is randomised at every exec (randomize_va_space 2).
  EXPECT_FALSE((*pin)->StillThatImage());
  Result<std::unique_ptr<ProcessPin>> again = ProcessPin::Pin(child.pid);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE((*again)->StillThatImage());
}

TEST(ProcessPinTest, AProcessThatIsGoneCannotBePinned) {
  Result<std::unique_ptr<ProcessPin>> pin = ProcessPin::Pin((1 << 22) + 7);
  ASSERT_FALSE(pin.ok());
  EXPECT_EQ(pin.status().error_number(), ESRCH);
}

}  // namespace
}  // namespace ubc
