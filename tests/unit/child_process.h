// Child processes for tests (tests only, header-only): the forked children the
// supervisor's /proc tests read, held alive until the test lets them go.
//
// ChildProcess forks at construction and runs a body in the child with the
// read end of a hold pipe (end-of-file once the test releases it, or dies) and
// the write end of a report pipe (ints the test reads with Reported()). The
// destructor releases and reaps it, with SIGKILL after 10 s. AwaitRelease and
// Report are for bodies; ReapAll reaps a body's own children. One test's own
// objects: not thread-safe.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "core/unique_fd.h"

namespace ubc {

// Reads the hold pipe until every write end is closed: the test let go, or died.
inline void AwaitRelease(int hold_fd) {
  char c;
  for (;;) {
    const ssize_t n = ::read(hold_fd, &c, 1);
    if (n == 0 || (n < 0 && errno != EINTR)) return;
  }
}

inline void Report(int report_fd, int value) {
  [[maybe_unused]] ssize_t n = ::write(report_fd, &value, sizeof value);
}

// Reaps every child of the calling process, as they exit.
inline void ReapAll() {
  for (;;) {
    if (::wait(nullptr) > 0) continue;
    if (errno != EINTR) return;
  }
}

// A forked child of the test that holds until released: `body` runs in it
// with the read end of a hold pipe whose write end only the test keeps (so it
// reads end-of-file when the test lets go, or dies) and the write end of a
// report pipe (Reported() reads the ints it writes). The destructor releases
// and reaps it, with SIGKILL when it has not exited within 10 s.
class ChildProcess {
 public:
  using Body = std::function<int(int hold_fd, int report_fd)>;
  explicit ChildProcess(const Body& body) {
    int hold[2], report[2];
    if (::pipe2(hold, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2: " << std::strerror(errno);
      return;
    }
    UniqueFd hold_read(hold[0]), hold_write(hold[1]);
    if (::pipe2(report, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2: " << std::strerror(errno);
      return;
    }
    UniqueFd report_read(report[0]), report_write(report[1]);
    pid_ = ::fork();
    if (pid_ < 0) {
      ADD_FAILURE() << "fork: " << std::strerror(errno);
      return;
    }
    if (pid_ == 0) {
      // Only this child's own ends stay open: another child's hold pipe kept
      // open here would never read end-of-file.
      const unsigned lo = static_cast<unsigned>(std::min(hold_read.get(), report_write.get()));
      const unsigned hi = static_cast<unsigned>(std::max(hold_read.get(), report_write.get()));
      ::close_range(3, lo - 1, 0);
      ::close_range(lo + 1, hi - 1, 0);
      ::close_range(hi + 1, ~0U, 0);
      ::_exit(body(hold_read.get(), report_write.get()));
    }
    hold_ = std::move(hold_write);
    report_ = std::move(report_read);
  }
  ~ChildProcess() { Release(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // The next `n` ints the child (or its children) reported; a failure when
  // they do not come within 10 s.
  std::vector<int> Reported(size_t n) {
    std::vector<int> out;
    while (out.size() < n) {
      pollfd p{report_.get(), POLLIN, 0};
      int value = 0;
      if (::poll(&p, 1, 10000) != 1 ||
          ::read(report_.get(), &value, sizeof value) != sizeof value) {
        ADD_FAILURE() << "the child reported " << out.size() << " of " << n << " values";
        break;
      }
      out.push_back(value);
    }
    return out;
  }

  // Lets the child go and reaps it.
  void Release() {
    if (pid_ <= 0) return;
    hold_.reset();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      const pid_t r = ::waitpid(pid_, nullptr, WNOHANG);
      if (r == pid_ || (r < 0 && errno != EINTR)) break;
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "child " << pid_ << " did not exit when released: killed";
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  UniqueFd hold_;
  UniqueFd report_;
};

}  // namespace ubc
