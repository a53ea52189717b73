#include "supervisor/caller_memory.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "tests/unit/child_process.h"
#include "tests/unit/fake_notifier.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

// At the same address in the forked child.
alignas(16) char g_buffer[64];

seccomp_notif Notification(uint64_t id) {
  seccomp_notif n{};
  n.id = id;
  return n;
}

// A child that waits to be released, then reports the first 4 bytes of
// g_buffer (as the test wrote them).
int ReportBuffer(int hold_fd, int report_fd) {
  std::memset(g_buffer, 0, sizeof g_buffer);
  Report(report_fd, 0);
  AwaitRelease(hold_fd);
  int value = 0;
  std::memcpy(&value, g_buffer, sizeof value);
  Report(report_fd, value);
  return 0;
}

TEST(CallerMemoryTest, WritesIntoTheCallersMemory) {
  UBC_REQUIRE_ROOT();
  ChildProcess child(ReportBuffer);
  ASSERT_EQ(child.Reported(1), std::vector<int>{0});
  FakeNotifier notifier;
  notifier.Push(Notification(3));
  const std::vector<uint8_t> bytes = {0x78, 0x56, 0x34, 0x12};
  Status error;
  EXPECT_EQ(WriteCallerMemory(notifier, 3, child.pid(), reinterpret_cast<uintptr_t>(g_buffer),
                              bytes, &error),
            CallerWrite::kWritten)
      << error.message();
  child.Release();
  EXPECT_EQ(child.Reported(1), std::vector<int>{0x12345678});
}

TEST(CallerMemoryTest, AnUnmappedOrReadOnlyAddressIsAFault) {
  UBC_REQUIRE_ROOT();
  ChildProcess child(ReportBuffer);
  ASSERT_EQ(child.Reported(1), std::vector<int>{0});
  FakeNotifier notifier;
  notifier.Push(Notification(4));
  Status error;
  const std::vector<uint8_t> bytes(112, 1);
  EXPECT_EQ(WriteCallerMemory(notifier, 4, child.pid(), 8, bytes, &error), CallerWrite::kFault);
  EXPECT_EQ(WriteCallerMemory(notifier, 4, child.pid(), ~0ull - 8, bytes, &error),
            CallerWrite::kFault);
  // Its code is mapped read-only: /proc/PID/mem writes through that (as a
  // debugger does), so read-only is not checked here but by the kernel's
  // own rules for the call (the sysinfo struct is on the caller's stack).
}

TEST(CallerMemoryTest, NothingIsWrittenOnceTheNotificationIsGone) {
  UBC_REQUIRE_ROOT();
  ChildProcess child(ReportBuffer);
  ASSERT_EQ(child.Reported(1), std::vector<int>{0});
  FakeNotifier notifier;
  notifier.Push(Notification(5), /*withdrawn=*/true);
  Status error;
  EXPECT_EQ(WriteCallerMemory(notifier, 5, child.pid(), reinterpret_cast<uintptr_t>(g_buffer),
                              {1, 2, 3, 4}, &error),
            CallerWrite::kGone);
  child.Release();
  EXPECT_EQ(child.Reported(1), std::vector<int>{0});
  // A thread that does not exist at all, with a notification still valid.
  notifier.Push(Notification(6));
  EXPECT_EQ(WriteCallerMemory(notifier, 6, 1 << 30, 4096, {1}, &error), CallerWrite::kFailed);
  EXPECT_NE(error.message().find("/mem"), std::string::npos) << error.message();
}

TEST(CallerMemoryTest, TellsWritableRangesFromReadOnlyAndUnmappedOnes) {
  UBC_REQUIRE_ROOT();
  ChildProcess child(ReportBuffer);
  ASSERT_EQ(child.Reported(1), std::vector<int>{0});
  FakeNotifier notifier;
  notifier.Push(Notification(7));
  const uint64_t buffer = reinterpret_cast<uintptr_t>(g_buffer);
  Result<bool> rw = CallerRangeWritable(notifier, 7, child.pid(), buffer, sizeof g_buffer);
  if (!rw.ok() && rw.status().message().find("PROCMAP_QUERY on") != std::string::npos) {
    // A kernel before 6.11: the error the responder falls back on (to the
    // maps listing, core/memory_map_test.cc's RangeWritable).
    EXPECT_NE(rw.status().message().find("Inappropriate ioctl"), std::string::npos)
        << rw.status().message();
    return;
  }
  ASSERT_TRUE(rw.ok()) << rw.status().message();
  EXPECT_TRUE(*rw);
  // This function's own code, mapped read-only and executable.
  const uint64_t code = reinterpret_cast<uintptr_t>(&ReportBuffer);
  Result<bool> ro = CallerRangeWritable(notifier, 7, child.pid(), code, 16);
  ASSERT_TRUE(ro.ok()) << ro.status().message();
  EXPECT_FALSE(*ro);
  Result<bool> none = CallerRangeWritable(notifier, 7, child.pid(), 8, 112);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  EXPECT_FALSE(*CallerRangeWritable(notifier, 7, child.pid(), ~0ull - 8, 112));
  // Gone: an error, nothing read.
  notifier.Push(Notification(8), /*withdrawn=*/true);
  EXPECT_FALSE(CallerRangeWritable(notifier, 8, child.pid(), buffer, 8).ok());
}

}  // namespace
}  // namespace ubc
