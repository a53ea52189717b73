#include "supervisor/proc_view_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <set>
#include <string>
#include <thread>

namespace ubc {
namespace {

// Real mounts of the real kernel's FUSE: root only, each test its own
// directory, detached at the end whatever happened.
class ProcViewFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "mounting FUSE needs root";
    char tmpl[] = "/tmp/ubc-procview-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    dir_ = base_ + "/proc";
  }
  void TearDown() override {
    fs_.reset();
    if (!dir_.empty()) {
      while (::umount2(dir_.c_str(), MNT_DETACH) == 0) {
      }
      std::error_code ec;
      std::filesystem::remove_all(base_, ec);
    }
  }
  std::unique_ptr<ProcViewFs> Serve(UniqueFd fd, bool recovered, std::string tag) {
    auto started = ProcViewFs::Start(
        std::move(fd), recovered, [this, tag](ProcViewFile file, pid_t tid, bool) {
          last_tid_ = tid;
          return ProcViewContent{
              tag + (file == ProcViewFile::kMeminfo ? " meminfo " : " beancounters ") +
                  std::to_string(generation_.load()) + "\n",
              container_.load()};
        });
    EXPECT_TRUE(started.ok()) << started.status().message();
    return started.ok() ? std::move(started).value() : nullptr;
  }
  std::string Read(const std::string& name) {
    UniqueFd fd(::open((dir_ + "/" + name).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return "open: " + std::string(std::strerror(errno));
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof(buf))) > 0) out.append(buf, n);
    if (n < 0) return "read: " + std::string(std::strerror(errno));
    return out;
  }

  std::string base_, dir_;
  std::unique_ptr<ProcViewFs> fs_;
  std::atomic<pid_t> last_tid_{0};
  std::atomic<int> generation_{1};     // what the texts say; tests move it
  std::atomic<bool> container_{true};  // whether the caller is taken for a container's
};

TEST_F(ProcViewFsTest, ServesEachFileRenderedForTheReadingThread) {
  auto fd = MountProcView(dir_);
  ASSERT_TRUE(fd.ok()) << fd.status().message();
  EXPECT_TRUE(IsFuseConnection(fd->get()));
  EXPECT_TRUE(IsProcViewMount(dir_));
  fs_ = Serve(std::move(fd).value(), false, "first");
  ASSERT_TRUE(fs_);
  EXPECT_EQ(Read("meminfo"), "first meminfo 1\n");
  EXPECT_EQ(last_tid_.load(), static_cast<pid_t>(::syscall(SYS_gettid)));
  generation_ = 2;
  EXPECT_EQ(Read("user_beancounters"), "first beancounters 2\n");
  EXPECT_EQ(Read("any-token"), "read: Is a directory");  // every name is a token directory
  EXPECT_EQ(Read("token/nothing"), "open: No such file or directory");
}

TEST_F(ProcViewFsTest, ListsItsTwoFiles) {
  auto fd = MountProcView(dir_);
  ASSERT_TRUE(fd.ok()) << fd.status().message();
  fs_ = Serve(std::move(fd).value(), false, "t");
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    names.insert(e.path().filename().string());
  }
  EXPECT_EQ(names, (std::set<std::string>{"meminfo", "user_beancounters"}));
}

TEST_F(ProcViewFsTest, WritingIsRefusedEvenToRoot) {
  auto fd = MountProcView(dir_);
  ASSERT_TRUE(fd.ok()) << fd.status().message();
  fs_ = Serve(std::move(fd).value(), false, "t");
  const std::string path = dir_ + "/meminfo";
  for (int flags : {O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC}) {
    errno = 0;
    UniqueFd w(::open(path.c_str(), flags | O_CLOEXEC));
    EXPECT_FALSE(w) << flags;
    EXPECT_EQ(errno, EROFS) << flags;
  }
  EXPECT_NE(::truncate(path.c_str(), 0), 0);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(Read("meminfo"), "t meminfo 1\n");
}

uint64_t ElapsedMs(std::chrono::steady_clock::time_point since) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now() - since)
                                   .count());
}

// A container's reads come from the page cache: a burst of them costs a
// GETATTR (and a READ when the text changed) per 10 ms, not requests per
// read; and a change shows within that time.
TEST_F(ProcViewFsTest, AContainersReadsAreServedFromTheCacheAndFollowChanges) {
  auto fd = MountProcView(dir_);
  ASSERT_TRUE(fd.ok()) << fd.status().message();
  fs_ = Serve(std::move(fd).value(), false, "c");
  EXPECT_EQ(Read("ct1/meminfo"), "c meminfo 1\n");
  const uint64_t before = fs_->requests();
  const auto start = std::chrono::steady_clock::now();
  constexpr int kReads = 2000;
  for (int i = 0; i < kReads; ++i) ASSERT_EQ(Read("ct1/meminfo"), "c meminfo 1\n") << i;
  const uint64_t took_ms = ElapsedMs(start);
  // At most one GETATTR per expiry (the text never changed: no READ), a
  // few more for reads that raced at an expiry.
  EXPECT_LE(fs_->requests() - before, 2 * (took_ms / 10 + 2))
      << kReads << " reads in " << took_ms << " ms";
  generation_ = 2;
  const auto changed = std::chrono::steady_clock::now();
  std::string seen;
  while ((seen = Read("ct1/meminfo")) != "c meminfo 2\n" && ElapsedMs(changed) < 5000) {
  }
  EXPECT_EQ(seen, "c meminfo 2\n");
  // Not kept beyond its time, however loaded the machine (a jiffy's rounding).
  EXPECT_EQ(Read("ct1/meminfo"), "c meminfo 2\n");
}

TEST_F(ProcViewFsTest, WhatNoContainerIsShownIsNotKeptAndOddReadsAreBounded) {
  auto fd = MountProcView(dir_);
  ASSERT_TRUE(fd.ok()) << fd.status().message();
  fs_ = Serve(std::move(fd).value(), false, "host");
  container_ = false;
  EXPECT_EQ(Read("ct2/meminfo"), "host meminfo 1\n");
  generation_ = 2;
  // An attribute kept for 0 s is still good within the jiffy it came in.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(Read("ct2/meminfo"), "host meminfo 2\n");
  UniqueFd f(::open((dir_ + "/ct2/meminfo").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(f);
  char b[64] = {};
  EXPECT_EQ(::pread(f.get(), b, sizeof(b), 1 << 30), 0);
  EXPECT_EQ(::lseek(f.get(), -5, SEEK_SET), -1);
  EXPECT_EQ(errno, EINVAL);
  std::vector<char> huge(8 << 20);
  EXPECT_EQ(::pread(f.get(), huge.data(), huge.size(), 0), 15);
  EXPECT_EQ(std::string(huge.data(), 15), "host meminfo 2\n");
}

TEST_F(ProcViewFsTest, ANewServerTakesOverTheSameMountAndWaitingReadsAreAnswered) {
  auto fd = MountProcView(dir_);
  ASSERT_TRUE(fd.ok()) << fd.status().message();
  // The copy the fd store would keep.
  UniqueFd kept(::fcntl(fd->get(), F_DUPFD_CLOEXEC, 0));
  ASSERT_TRUE(kept);
  fs_ = Serve(std::move(fd).value(), false, "old");
  generation_ = 2;
  UniqueFd opened_before(::open((dir_ + "/meminfo").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(opened_before);
  EXPECT_EQ(Read("meminfo"), "old meminfo 2\n");
  fs_.reset();  // the server is gone; the connection lives in `kept`

  // A read meanwhile waits (it neither fails nor is answered) ...
  auto waiting = std::async(std::launch::async, [this] { return Read("user_beancounters"); });
  EXPECT_EQ(waiting.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  // ... until the next server takes the connection over.
  fs_ = Serve(std::move(kept), true, "new");
  ASSERT_TRUE(fs_);
  ASSERT_EQ(waiting.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(waiting.get().rfind("new beancounters ", 0), 0u);
  // A file opened under the previous server is read afresh, never misread.
  char buf[64] = {};
  ASSERT_GT(::pread(opened_before.get(), buf, sizeof(buf) - 1, 0), 0);
  EXPECT_EQ(std::string(buf).rfind("new meminfo ", 0), 0u) << buf;
}

TEST_F(ProcViewFsTest, AMountNobodyServesIsReplaced) {
  {
    auto fd = MountProcView(dir_);
    ASSERT_TRUE(fd.ok()) << fd.status().message();
    // Held and never served: a stat of it would hang. Closed: it is dead.
  }
  auto again = MountProcView(dir_);
  ASSERT_TRUE(again.ok()) << again.status().message();
  fs_ = Serve(std::move(again).value(), false, "fresh");
  EXPECT_EQ(Read("meminfo"), "fresh meminfo 1\n");
}

TEST_F(ProcViewFsTest, EachTokenDirectoryHasTheFilesWithInodesOfItsOwn) {
  auto fd = MountProcView(dir_);
  ASSERT_TRUE(fd.ok()) << fd.status().message();
  fs_ = Serve(std::move(fd).value(), false, "tok");
  struct stat root_file {
  }, a{}, b{}, a_again{};
  ASSERT_EQ(::stat((dir_ + "/meminfo").c_str(), &root_file), 0);
  ASSERT_EQ(::stat((dir_ + "/ctr-a/meminfo").c_str(), &a), 0);
  ASSERT_EQ(::stat((dir_ + "/ctr-b/meminfo").c_str(), &b), 0);
  ASSERT_EQ(::stat((dir_ + "/ctr-a/meminfo").c_str(), &a_again), 0);
  EXPECT_NE(a.st_ino, root_file.st_ino);
  EXPECT_NE(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_ino, a_again.st_ino);
  EXPECT_TRUE(S_ISREG(a.st_mode));
  EXPECT_EQ(Read("ctr-a/user_beancounters").rfind("tok beancounters ", 0), 0u);
  EXPECT_EQ(Read("ctr-a/other"), "open: No such file or directory");
  EXPECT_EQ(Read("bad name!/meminfo"), "open: No such file or directory");
  EXPECT_EQ(Read(std::string(65, 'x') + "/meminfo"), "open: No such file or directory");
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/ctr-a")) {
    names.insert(e.path().filename().string());
  }
  EXPECT_EQ(names, (std::set<std::string>{"meminfo", "user_beancounters"}));
}

TEST_F(ProcViewFsTest, StatAndSendfileSeeTheWholeText) {
  auto fd = MountProcView(dir_);
  ASSERT_TRUE(fd.ok()) << fd.status().message();
  fs_ = Serve(std::move(fd).value(), false, "sized");
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/t1/meminfo").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(std::string("sized meminfo 1\n").size()));
  // busybox cat and coreutils copy with sendfile/copy_file_range: the page
  // cache path, which stops at the size.
  UniqueFd in(::open((dir_ + "/t1/meminfo").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(in);
  const std::string out_path = base_ + "/copy";
  UniqueFd out(::open(out_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(out);
  const ssize_t sent = ::sendfile(out.get(), in.get(), nullptr, 1 << 20);
  out.reset();
  std::string copied(64, '\0');
  UniqueFd back(::open(out_path.c_str(), O_RDONLY | O_CLOEXEC));
  copied.resize(std::max<ssize_t>(0, ::read(back.get(), copied.data(), copied.size())));
  EXPECT_GT(sent, 0);
  EXPECT_EQ(copied.rfind("sized meminfo ", 0), 0u) << copied;
}

// The runtime stats a container's file as it binds it, before ubcd knows the
// container: the size it was shown must not stick, or the container's
// sendfile readers (busybox cat) would see only that much of their own text.
TEST_F(ProcViewFsTest, ASizeShownToNoContainerIsNotKept) {
  auto fd = MountProcView(dir_);
  ASSERT_TRUE(fd.ok()) << fd.status().message();
  fs_ = Serve(std::move(fd).value(), false, "x");
  const std::string path = dir_ + "/t2/user_beancounters";
  struct stat st {};
  container_ = false;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(std::string("x beancounters 1\n").size()));
  container_ = true;
  generation_ = 123456;  // a longer text
  // An attribute kept for 0 s is still good within the jiffy it came in.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::string whole = "x beancounters 123456\n";
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(whole.size()));
  // A container reader's size is kept: a stat within the timeout costs no
  // GETATTR. (Checked when the two stats came within half of it.)
  generation_ = 7;
  const auto shown = std::chrono::steady_clock::now();
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  if (ElapsedMs(shown) < 5) {
    EXPECT_EQ(st.st_size, static_cast<off_t>(whole.size()));
  }
  generation_ = 123456;
  UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(in);
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd rd(pipe_fds[0]), wr(pipe_fds[1]);
  const ssize_t sent = ::sendfile(wr.get(), in.get(), nullptr, 1 << 16);
  std::string copied(64, '\0');
  copied.resize(std::max<ssize_t>(0, ::read(rd.get(), copied.data(), copied.size())));
  EXPECT_EQ(sent, static_cast<ssize_t>(whole.size()));
  EXPECT_EQ(copied, whole);
}

TEST_F(ProcViewFsTest, ThousandsOfOpenFilesAllReadWithoutARequestEach) {
  rlimit nofile{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &nofile), 0);
  const rlimit saved = nofile;
  // As many as the hard limit allows (raising it needs CAP_SYS_RESOURCE).
  const size_t kWant = std::min<size_t>(20000, nofile.rlim_max - 64);
  ASSERT_GE(kWant, 1000u) << "RLIMIT_NOFILE's hard limit is " << nofile.rlim_max;
  nofile.rlim_cur = std::max<rlim_t>(nofile.rlim_cur, kWant + 64);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &nofile), 0) << std::strerror(errno);
  auto fd = MountProcView(dir_);
  ASSERT_TRUE(fd.ok()) << fd.status().message();
  fs_ = Serve(std::move(fd).value(), false, "many");
  std::vector<UniqueFd> files;
  files.reserve(kWant);
  const auto start = std::chrono::steady_clock::now();
  const uint64_t before = fs_->requests();
  for (size_t i = 0; i < kWant; ++i) {
    files.emplace_back(::open((dir_ + "/meminfo").c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(files.back()) << i << ": " << std::strerror(errno);
  }
  // Opens send nothing after the first (answered ENOSYS); the lookups and
  // GETATTRs of expired attributes are all there is.
  EXPECT_LE(fs_->requests() - before, 2 * (ElapsedMs(start) / 10 + 2));
  for (size_t i = 0; i < kWant; i += 997) {
    char buf[64] = {};
    ASSERT_GT(::pread(files[i].get(), buf, sizeof(buf) - 1, 0), 0) << i;
    EXPECT_STREQ(buf, "many meminfo 1\n") << i;
  }
  files.clear();
  ::setrlimit(RLIMIT_NOFILE, &saved);
}

TEST_F(ProcViewFsTest, OnlyFuseFdsAreConnections) {
  UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  EXPECT_FALSE(IsFuseConnection(null.get()));
  EXPECT_FALSE(IsProcViewMount(base_));
  EXPECT_FALSE(ProcViewFs::Start(std::move(null), false, {}).ok());
}

}  // namespace
}  // namespace ubc
