#include "supervisor/proc_target.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/unique_fd.h"
#include "tests/unit/child_process.h"
#include "tests/unit/fake_notifier.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

// A child that maps `extra_bytes` of private writable memory (counted in its
// statm data) and, when `mappings` > 0, that many separate pages (alternately
// read-only and writable, so that no two merge), then holds.
ChildProcess::Body Mapping(size_t extra_bytes, int mappings = 0) {
  return [extra_bytes, mappings](int hold_fd, int report_fd) {
    if (extra_bytes > 0 && ::mmap(nullptr, extra_bytes, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED) {
      return 1;
    }
    if (mappings > 0) {
      const long page = ::sysconf(_SC_PAGESIZE);
      char* area = static_cast<char*>(::mmap(nullptr, static_cast<size_t>(page) * mappings,
                                             PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
      if (area == MAP_FAILED) return 1;
      for (int i = 1; i < mappings; i += 2) {
        if (::mprotect(area + static_cast<long>(i) * page, static_cast<size_t>(page),
                       PROT_READ | PROT_WRITE) != 0) {
          return 1;
        }
      }
    }
    Report(report_fd, 0);
    AwaitRelease(hold_fd);
    return 0;
  };
}

// Five pages reserved (PROT_NONE) in the test process, so that a forked
// child finds them free at the same address.
uintptr_t ReserveFivePages() {
  void* p = ::mmap(nullptr, 5 * kPageBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  EXPECT_NE(p, MAP_FAILED) << std::strerror(errno);
  return reinterpret_cast<uintptr_t>(p);
}

// A child that maps 5 pages over `addr` (ReserveFivePages) and locks the
// middle 3, then holds. Tests run as root, so RLIMIT_MEMLOCK does not stop
// it; the system call itself, because sanitizers make libc's mlock a no-op.
ChildProcess::Body LockingMiddlePages(uintptr_t addr) {
  return [addr](int hold_fd, int report_fd) {
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    char* area =
        static_cast<char*>(::mmap(reinterpret_cast<void*>(addr), 5 * page, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
    if (area == MAP_FAILED || ::syscall(SYS_mlock, area + page, 3 * page) != 0) {
      Report(report_fd, -errno);
      return 1;
    }
    Report(report_fd, 0);
    AwaitRelease(hold_fd);
    return 0;
  };
}

// ---------------------------------------------------------------- helpers

// Whitespace-separated fields of a /proc file, read independently of the
// code under test; for stat, the fields after the ")" closing the comm,
// numbered from 3 as in proc(5).
std::vector<std::string> Fields(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string f; in >> f;) out.push_back(f);
  return out;
}
uint64_t StatmData(int pid) {
  const std::vector<std::string> f =
      Fields(ReadFileForTest("/proc/" + std::to_string(pid) + "/statm"));
  EXPECT_EQ(f.size(), 7u);
  return f.size() == 7 ? std::stoull(f[5]) : 0;
}
std::string StatField(int pid, int n) {
  const std::string text = ReadFileForTest("/proc/" + std::to_string(pid) + "/stat");
  const std::vector<std::string> f = Fields(text.substr(text.rfind(')') + 1));
  return static_cast<size_t>(n - 3) < f.size() ? f[static_cast<size_t>(n - 3)] : "";
}

seccomp_notif Notification(uint64_t id) {
  seccomp_notif n{};
  n.id = id;
  return n;
}

// A thread's tid, reported to the test; its name is set first.
int NamedThread(const char* name, int hold_fd, int report_fd) {
  std::thread worker([&] {
    ::prctl(PR_SET_NAME, name, 0, 0, 0);
    Report(report_fd, static_cast<int>(::syscall(SYS_gettid)));
    AwaitRelease(hold_fd);
  });
  AwaitRelease(hold_fd);
  worker.join();
  return 0;
}

// A Notifier that records, whenever IdValid() is asked, which files of
// /proc/TID the process has open at that moment.
class RecordingNotifier : public Notifier {
 public:
  explicit RecordingNotifier(int tid) : prefix_("/proc/" + std::to_string(tid) + "/") {}
  RecvResult Receive(seccomp_notif*) override { return RecvResult::kHangup; }
  bool IdValid(uint64_t) const override {
    std::vector<std::string> open;
    if (DIR* d = ::opendir("/proc/self/fd")) {
      while (dirent* e = ::readdir(d)) {
        char target[4096];
        const ssize_t n = ::readlinkat(::dirfd(d), e->d_name, target, sizeof target);
        if (n <= 0) continue;
        const std::string link(target, static_cast<size_t>(n));
        if (link.rfind(prefix_, 0) == 0) open.push_back(link.substr(prefix_.size()));
      }
      ::closedir(d);
    }
    open_at_checks_.push_back(open);
    return valid_;
  }
  Status Respond(const seccomp_notif_resp&) override { return Status::Ok(); }
  void Interrupt() override {}

  void set_valid(bool valid) { valid_ = valid; }
  const std::vector<std::vector<std::string>>& open_at_checks() const { return open_at_checks_; }

 private:
  std::string prefix_;
  bool valid_ = true;
  mutable std::vector<std::vector<std::string>> open_at_checks_;
};

// Beyond any pid the kernel hands out (PID_MAX_LIMIT is 2^22).
constexpr int kNoSuchTid = 1 << 30;

// ---------------------------------------------------------------- tests

TEST(ProcTargetTest, ReadsTheThreadsStatmMapsAndStat) {
  ChildProcess child(Mapping(0));
  ASSERT_EQ(child.Reported(1).size(), 1u);
  FakeNotifier notifier;
  notifier.Push(Notification(7));
  ProcTarget target(notifier, 7, child.pid());

  Result<uint64_t> data = target.DataPages();
  ASSERT_TRUE(data.ok()) << data.status().message();
  EXPECT_EQ(*data, StatmData(child.pid()));

  Result<std::vector<MapEntry>> maps = target.Maps();
  ASSERT_TRUE(maps.ok()) << maps.status().message();
  const std::string maps_text = ReadFileForTest("/proc/" + std::to_string(child.pid()) + "/maps");
  ASSERT_EQ(maps->size(),
            static_cast<size_t>(std::count(maps_text.begin(), maps_text.end(), '\n')));
  EXPECT_TRUE(std::any_of(maps->begin(), maps->end(),
                          [](const MapEntry& e) { return e.path == "[stack]"; }));

  Result<ImageFacts> image = target.Image();
  ASSERT_TRUE(image.ok()) << image.status().message();
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  EXPECT_EQ(image->vm_pages, (std::stoull(StatField(child.pid(), 23)) + page - 1) / page);
  EXPECT_EQ(image->start_brk, std::stoull(StatField(child.pid(), 47)));
  EXPECT_GT(image->start_brk, 0u);
}

TEST(ProcTargetTest, ReadsTheLockedPagesAndTheLockedRanges) {
  UBC_REQUIRE_ROOT();
  const uintptr_t at = ReserveFivePages();
  ChildProcess child(LockingMiddlePages(at));
  const std::vector<int> reported = child.Reported(1);
  ASSERT_EQ(reported, std::vector<int>{0}) << std::strerror(reported.empty() ? 0 : -reported[0]);
  FakeNotifier notifier;
  notifier.Push(Notification(7));
  ProcTarget target(notifier, 7, child.pid());
  Result<uint64_t> locked = target.LockedPages();
  ASSERT_TRUE(locked.ok()) << locked.status().message();
  EXPECT_EQ(*locked, 3u);
  Result<std::vector<AddressRange>> ranges = target.LockedRanges();
  ASSERT_TRUE(ranges.ok()) << ranges.status().message();
  // mlock split the mapping: only its middle is flagged.
  EXPECT_EQ(*ranges, (std::vector<AddressRange>{{at + kPageBytes, at + 4 * kPageBytes}}));
  EXPECT_EQ(PagesCovered(*ranges, at, 5 * kPageBytes), 3u);
  ::munmap(reinterpret_cast<void*>(at), 5 * kPageBytes);
}

TEST(ProcTargetTest, ALockingProcessIsNotReadOnceTheNotificationIsGone) {
  UBC_REQUIRE_ROOT();
  ChildProcess child(LockingMiddlePages(ReserveFivePages()));
  ASSERT_EQ(child.Reported(1), std::vector<int>{0});
  FakeNotifier notifier;  // notification 9 was never pushed: not valid
  ProcTarget target(notifier, 9, child.pid());
  EXPECT_FALSE(target.LockedPages().ok());
  EXPECT_FALSE(target.LockedRanges().ok());
}

TEST(ProcTargetTest, ReadsEveryMappingOfAProcessWithVeryManyMappings) {
  // Far more than one read of maps: a read shorter than the buffer is not its end.
  ChildProcess child(Mapping(0, 3000));
  ASSERT_EQ(child.Reported(1).size(), 1u);
  FakeNotifier notifier;
  notifier.Push(Notification(1));
  ProcTarget target(notifier, 1, child.pid());
  Result<std::vector<MapEntry>> maps = target.Maps();
  ASSERT_TRUE(maps.ok()) << maps.status().message();
  const std::string maps_text = ReadFileForTest("/proc/" + std::to_string(child.pid()) + "/maps");
  EXPECT_GE(maps->size(), 3000u);
  EXPECT_EQ(maps->size(),
            static_cast<size_t>(std::count(maps_text.begin(), maps_text.end(), '\n')));
}

TEST(ProcTargetTest, AThreadIsReadByItsOwnIdAndSharesItsProcesssMemory) {
  ChildProcess child(
      [](int hold_fd, int report_fd) { return NamedThread("ubc-worker", hold_fd, report_fd); });
  const std::vector<int> tid = child.Reported(1);
  ASSERT_EQ(tid.size(), 1u);
  ASSERT_NE(tid[0], child.pid());
  FakeNotifier notifier;
  notifier.Push(Notification(1));
  notifier.Push(Notification(2));
  ProcTarget thread(notifier, 1, tid[0]);
  ProcTarget process(notifier, 2, child.pid());
  EXPECT_EQ(thread.Comm(), "ubc-worker");
  std::string main_comm = ReadFileForTest("/proc/" + std::to_string(child.pid()) + "/comm");
  ASSERT_FALSE(main_comm.empty());
  main_comm.pop_back();  // the newline
  EXPECT_EQ(process.Comm(), main_comm);
  EXPECT_NE(process.Comm(), "ubc-worker");
  Result<uint64_t> thread_data = thread.DataPages();
  Result<uint64_t> process_data = process.DataPages();
  ASSERT_TRUE(thread_data.ok()) << thread_data.status().message();
  ASSERT_TRUE(process_data.ok()) << process_data.status().message();
  EXPECT_EQ(*thread_data, *process_data);
}

TEST(ProcTargetTest, NothingIsReadOnceTheNotificationIsNoLongerValid) {
  ChildProcess child(Mapping(0));
  ASSERT_EQ(child.Reported(1).size(), 1u);
  FakeNotifier notifier;
  notifier.Push(Notification(5));
  ProcTarget target(notifier, 5, child.pid());
  ASSERT_TRUE(target.DataPages().ok());
  notifier.Withdraw(5);  // the caller was killed; its pid may be anyone's now
  const std::string prefix = "/proc/" + std::to_string(child.pid()) + "/";
  Result<uint64_t> data = target.DataPages();
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.status().message(), prefix + "statm: notification no longer valid");
  Result<std::vector<MapEntry>> maps = target.Maps();
  ASSERT_FALSE(maps.ok());
  EXPECT_EQ(maps.status().message(), prefix + "maps: notification no longer valid");
  Result<ImageFacts> image = target.Image();
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().message(), prefix + "stat: notification no longer valid");
  EXPECT_EQ(target.Comm(), "?");
}

TEST(ProcTargetTest, TheNotificationIsCheckedWithTheThreadsFileAlreadyOpen) {
  // Checked before opening, the pid could be recycled in between and another
  // process's file read; checked with the file open, the fd pins the thread.
  ChildProcess child(Mapping(0));
  ASSERT_EQ(child.Reported(1).size(), 1u);
  RecordingNotifier notifier(child.pid());
  ProcTarget target(notifier, 3, child.pid());
  ASSERT_TRUE(target.DataPages().ok());
  ASSERT_TRUE(target.Maps().ok());
  ASSERT_TRUE(target.Image().ok());
  EXPECT_NE(target.Comm(), "?");
  using Files = std::vector<std::string>;
  ASSERT_EQ(notifier.open_at_checks().size(), 4u);
  EXPECT_EQ(notifier.open_at_checks()[0], Files{"statm"});
  EXPECT_EQ(notifier.open_at_checks()[1], Files{"maps"});
  EXPECT_EQ(notifier.open_at_checks()[2], Files{"stat"});
  EXPECT_EQ(notifier.open_at_checks()[3], Files{"comm"});
  // And nothing is left open afterwards.
  notifier.set_valid(false);
  EXPECT_FALSE(target.DataPages().ok());
  ASSERT_EQ(notifier.open_at_checks().size(), 5u);
  EXPECT_EQ(notifier.open_at_checks()[4], Files{"statm"});
}

TEST(ProcTargetTest, ResetPointsTheTargetAtAnotherNotificationAndThread) {
  constexpr size_t kExtraBytes = size_t{64} << 20;
  ChildProcess small(Mapping(0));
  ChildProcess large(Mapping(kExtraBytes));
  ASSERT_EQ(small.Reported(1).size(), 1u);
  ASSERT_EQ(large.Reported(1).size(), 1u);
  FakeNotifier notifier;
  notifier.Push(Notification(1));
  notifier.Push(Notification(2));
  notifier.Push(Notification(3), /*withdrawn=*/true);
  ProcTarget target(notifier);
  target.Reset(1, small.pid());
  Result<uint64_t> small_data = target.DataPages();
  ASSERT_TRUE(small_data.ok()) << small_data.status().message();
  target.Reset(2, large.pid());
  Result<uint64_t> large_data = target.DataPages();
  ASSERT_TRUE(large_data.ok()) << large_data.status().message();
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  EXPECT_EQ(*small_data, StatmData(small.pid()));
  EXPECT_EQ(*large_data, StatmData(large.pid()));
  EXPECT_GE(*large_data, *small_data + kExtraBytes / page);
  target.Reset(3, large.pid());
  EXPECT_FALSE(target.DataPages().ok());
}

TEST(ProcTargetTest, AThreadThatIsGoneIsAnErrorNamingItsFile) {
  FakeNotifier notifier;
  notifier.Push(Notification(1));
  ProcTarget target(notifier, 1, kNoSuchTid);
  const std::string prefix = "/proc/" + std::to_string(kNoSuchTid) + "/";
  Result<uint64_t> data = target.DataPages();
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.status().message(), prefix + "statm: " + std::strerror(ENOENT));
  Result<std::vector<MapEntry>> maps = target.Maps();
  ASSERT_FALSE(maps.ok());
  EXPECT_EQ(maps.status().message(), prefix + "maps: " + std::strerror(ENOENT));
  Result<ImageFacts> image = target.Image();
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().message(), prefix + "stat: " + std::strerror(ENOENT));
  EXPECT_EQ(target.Comm(), "?");
  // A target never pointed at a thread reads nothing either.
  ProcTarget unset(notifier);
  EXPECT_FALSE(unset.DataPages().ok());
  EXPECT_EQ(unset.Comm(), "?");
}

}  // namespace
}  // namespace ubc
