#include "supervisor/proc_read.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/unique_fd.h"
#include "tests/unit/child_process.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

// A child that maps `mappings` separate pages (alternately read-only and
// writable, so that no two merge), making its maps longer than several reads.
ChildProcess::Body ManyMappings(int mappings) {
  return [mappings](int hold_fd, int report_fd) {
    const long page = ::sysconf(_SC_PAGESIZE);
    char* area = static_cast<char*>(::mmap(nullptr, static_cast<size_t>(page) * mappings, PROT_READ,
                                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (area == MAP_FAILED) return 1;
    for (int i = 1; i < mappings; i += 2) {
      if (::mprotect(area + static_cast<long>(i) * page, static_cast<size_t>(page),
                     PROT_READ | PROT_WRITE) != 0) {
        return 1;
      }
    }
    Report(report_fd, 0);
    AwaitRelease(hold_fd);
    return 0;
  };
}

// ---------------------------------------------------------------- helpers

// Bytes that differ from their neighbours, so that a misplaced chunk shows.
std::string Pattern(size_t size_bytes) {
  std::string s(size_bytes, '\0');
  for (size_t i = 0; i < size_bytes; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

// The "Threads:" count of a /proc/PID/status text, or -1.
int ThreadsIn(const std::string& status) {
  const size_t at = status.find("\nThreads:");
  if (at == std::string::npos) return -1;
  return std::atoi(status.c_str() + at + std::strlen("\nThreads:"));
}

const ProcRecords kEveryMode[] = {ProcRecords::kOne, ProcRecords::kPids, ProcRecords::kMany};

// ---------------------------------------------------------------- tests

TEST(ProcReadTest, ReadsFromOffsetZeroWhateverTheFdPositionAndLeavesItThere) {
  TempDir dir("ubc-proc-read-test");
  const std::string text = Pattern(1000);
  const std::string path = dir.Write("file", text).string();
  for (ProcRecords records : kEveryMode) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd);
    ASSERT_EQ(::lseek(fd.get(), 600, SEEK_SET), 600);
    Result<std::string> read = ReadProcFd(fd.get(), records);
    ASSERT_TRUE(read.ok()) << read.status().message();
    EXPECT_EQ(*read, text);
    EXPECT_EQ(::lseek(fd.get(), 0, SEEK_CUR), 600);
    // Read again through the same fd: the same whole text.
    Result<std::string> again = ReadProcFd(fd.get(), records);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, text);
  }
}

TEST(ProcReadTest, ReadsFilesOfEverySizeWholeInEveryMode) {
  TempDir dir("ubc-proc-read-test");
  // Around the 16 KiB buffer, and around the 4080 bytes below which a pid
  // listing is whole in one read.
  const size_t sizes[] = {0, 1, 100, 4079, 4080, 4081, 16383, 16384, 16385, 32768, 100000};
  for (size_t size : sizes) {
    const std::string text = Pattern(size);
    const std::string path = dir.Write("file", text).string();
    for (ProcRecords records : kEveryMode) {
      Result<std::string> read = ReadProcFile(path, records);
      ASSERT_TRUE(read.ok()) << read.status().message();
      EXPECT_EQ(read->size(), size) << "mode " << static_cast<int>(records);
      EXPECT_TRUE(*read == text) << "size " << size << " mode " << static_cast<int>(records);
    }
  }
}

TEST(ProcReadTest, AKeptProcFdIsProducedAfreshOnEveryRead) {
  UniqueFd fd(::open("/proc/self/status", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd);
  Result<std::string> before = ReadProcFd(fd.get(), ProcRecords::kOne);
  ASSERT_TRUE(before.ok()) << before.status().message();
  const int threads = ThreadsIn(*before);
  ASSERT_GT(threads, 0) << *before;

  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread extra([&] {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
  });
  Result<std::string> during = ReadProcFd(fd.get(), ProcRecords::kOne);
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  extra.join();
  ASSERT_TRUE(during.ok()) << during.status().message();
  EXPECT_EQ(ThreadsIn(*during), threads + 1) << *during;
}

TEST(ProcReadTest, ReadsAListingLongerThanManyReadsUntilItsEnd) {
  // maps comes a page or so per read; 3000 mappings make well over 100 KiB.
  ChildProcess child(ManyMappings(3000));
  ASSERT_EQ(child.Reported(1).size(), 1u);
  const std::string path = "/proc/" + std::to_string(child.pid()) + "/maps";
  Result<std::string> read = ReadProcFile(path, ProcRecords::kMany);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_GT(read->size(), 100000u);
  EXPECT_GE(std::count(read->begin(), read->end(), '\n'), 3000);
  // The child does nothing while held: its maps read to EOF by the standard
  // library are the same text.
  EXPECT_TRUE(*read == ReadFileForTest(path));
}

TEST(ProcReadTest, ReadsAChildrenListing) {
  ChildProcess a([](int hold_fd, int) {
    AwaitRelease(hold_fd);
    return 0;
  });
  ChildProcess b([](int hold_fd, int) {
    AwaitRelease(hold_fd);
    return 0;
  });
  // The test's own thread forked them.
  const long tid = ::syscall(SYS_gettid);
  Result<std::string> read =
      ReadProcFile("/proc/self/task/" + std::to_string(tid) + "/children", ProcRecords::kPids);
  ASSERT_TRUE(read.ok()) << read.status().message();
  std::istringstream in(*read);
  std::set<int> listed;
  for (int pid; in >> pid;) listed.insert(pid);
  EXPECT_EQ(listed, (std::set<int>{a.pid(), b.pid()})) << *read;
}

TEST(ProcReadTest, AFileOfMoreThan64MiBIsRefused) {
  TempDir dir("ubc-proc-read-test");
  const std::string path = dir.Path("big").string();
  {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    ASSERT_TRUE(fd);
    ASSERT_EQ(::ftruncate(fd.get(), off_t{64} << 20), 0);  // sparse: no disk used
  }
  {
    Result<std::string> at_bound = ReadProcFile(path, ProcRecords::kMany);
    ASSERT_TRUE(at_bound.ok()) << at_bound.status().message();
    EXPECT_EQ(at_bound->size(), size_t{64} << 20);
  }

  ASSERT_EQ(::truncate(path.c_str(), (off_t{64} << 20) + 1), 0);
  Result<std::string> over = ReadProcFile(path, ProcRecords::kMany);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().message(), "file too large");
}

TEST(ProcReadTest, AFileThatCannotBeOpenedIsAnErrorNamingIt) {
  TempDir dir("ubc-proc-read-test");
  const std::string path = dir.Path("missing").string();
  Result<std::string> read = ReadProcFile(path, ProcRecords::kOne);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().message(), path + ": " + std::strerror(ENOENT));
}

TEST(ProcReadTest, AFdThatCannotBeReadIsAnError) {
  TempDir dir("ubc-proc-read-test");
  UniqueFd fd(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(fd);
  Result<std::string> read = ReadProcFd(fd.get(), ProcRecords::kOne);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().message(), std::string("read: ") + std::strerror(EISDIR));

  Result<std::string> bad = ReadProcFd(-1, ProcRecords::kMany);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), std::string("read: ") + std::strerror(EBADF));
}

}  // namespace
}  // namespace ubc
