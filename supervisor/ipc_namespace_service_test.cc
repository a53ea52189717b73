#include "supervisor/ipc_namespace_service.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "supervisor/privileges.h"
#include "supervisor/unix_socket.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr auto kChildWait = std::chrono::seconds(5);

uint64_t PageBytes() { return static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)); }
// 1 MiB and 5 pages: a size no rounding of the kernel's hides.
uint64_t SegmentBytes() { return (uint64_t{1} << 20) + 5 * PageBytes(); }
uint64_t SegmentPages() { return SegmentBytes() / PageBytes(); }

// shmctl(SHM_INFO) of the test's own namespace, independently of the code
// under test.
ShmUsage OwnShmForTest() {
  shm_info info{};
  EXPECT_GE(::shmctl(0, SHM_INFO, reinterpret_cast<shmid_ds*>(&info)), 0) << std::strerror(errno);
  return ShmUsage{info.shm_tot, static_cast<uint64_t>(info.used_ids)};
}

std::string ReadLink(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path target = std::filesystem::read_symlink(path, ec);
  return ec ? "(" + ec.message() + ")" : target.string();
}

// Waits (at most kChildWait) for `pid`, our child, to reach `state`
// (WEXITED or WSTOPPED), without reaping it.
bool AwaitState(int pid, int state) {
  const auto deadline = steady_clock::now() + kChildWait;
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, state | WNOHANG | WNOWAIT) != 0)
      return false;
    if (info.si_pid == pid) return true;
    if (steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(2));
  }
}

// True when our own child `pid` is gone and reaped by someone (ECHILD).
bool Reaped(int pid) { return ::waitpid(pid, nullptr, WNOHANG) < 0 && errno == ECHILD; }

// Reads one byte within kChildWait; 0 on timeout or end-of-file.
char ReadByte(int fd) {
  pollfd p{fd, POLLIN, 0};
  char c = 0;
  if (::poll(&p, 1, static_cast<int>(milliseconds(kChildWait).count())) != 1) return 0;
  return ::read(fd, &c, 1) == 1 ? c : 0;
}

// ---------------------------------------------------------------- a container's namespace

// A child process in an IPC namespace of its own (unshare CLONE_NEWIPC)
// holding `segments` SysV segments of SegmentBytes() each. Commands are one
// byte on a pipe, each answered with one byte ('k' done, 'e' failed):
// 'a' attaches the first segment not yet removed, 'r' removes (IPC_RMID) it,
// 'l' locks (SHM_LOCK) the first segment not yet locked. ids() are the
// segments' shmids.
// The destructor closes the pipe: the child detaches and removes every
// segment it still has and exits; it is killed if it does not, and reaped.
class NamespaceChild {
 public:
  explicit NamespaceChild(int segments) {
    int to_child[2], from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0) {
      error_ = std::string("pipe2: ") + std::strerror(errno);
      return;
    }
    UniqueFd command_read(to_child[0]), answer_write(from_child[1]);
    commands_.reset(to_child[1]);
    answers_.reset(from_child[0]);
    pid_ = ::fork();
    if (pid_ < 0) {
      error_ = std::string("fork: ") + std::strerror(errno);
      return;
    }
    if (pid_ == 0) {
      commands_.reset();
      answers_.reset();
      ::_exit(Run(segments, command_read.get(), answer_write.get()));
    }
    const char ready = ReadByte(answers_.get());
    if (ready != 'R') {
      error_ = std::string("the child did not get ready: ") + (ready ? ready : '-');
      return;
    }
    ids_.resize(static_cast<size_t>(segments));
    const size_t want = ids_.size() * sizeof(int);
    if (want > 0 && ::read(answers_.get(), ids_.data(), want) != static_cast<ssize_t>(want)) {
      error_ = "the child did not send its shmids";
    }
  }

  ~NamespaceChild() {
    if (pid_ <= 0) return;
    commands_.reset();
    const auto deadline = steady_clock::now() + kChildWait;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (steady_clock::now() > deadline) {
        ADD_FAILURE() << "namespace child " << pid_ << " did not leave: killed";
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        return;
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "namespace child status " << status << " (could not clean up its segments?)";
  }

  NamespaceChild(const NamespaceChild&) = delete;
  NamespaceChild& operator=(const NamespaceChild&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  int pid() const { return pid_; }
  const std::vector<int>& ids() const { return ids_; }

  bool Command(char c) {
    if (::write(commands_.get(), &c, 1) != 1) return false;
    return ReadByte(answers_.get()) == 'k';
  }

 private:
  static int Run(int segments, int commands, int answers) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (::unshare(CLONE_NEWIPC) != 0) return 2;
    std::vector<int> ids;
    std::vector<void*> attached;
    size_t removed = 0;
    const auto clean_up = [&] {
      for (void* a : attached) ::shmdt(a);
      for (size_t i = removed; i < ids.size(); ++i) ::shmctl(ids[i], IPC_RMID, nullptr);
    };
    for (int i = 0; i < segments; ++i) {
      const int id = ::shmget(IPC_PRIVATE, SegmentBytes(), IPC_CREAT | 0600);
      if (id < 0) {
        clean_up();
        return 3;
      }
      ids.push_back(id);
    }
    const ssize_t id_bytes = static_cast<ssize_t>(ids.size() * sizeof(int));
    if (::write(answers, "R", 1) != 1 ||
        ::write(answers, ids.data(), ids.size() * sizeof(int)) != id_bytes) {
      clean_up();
      return 4;
    }
    size_t locked = 0;
    for (char c; ::read(commands, &c, 1) == 1;) {
      bool done = false;
      if (c == 'l' && locked < ids.size()) {
        done = ::shmctl(ids[locked], SHM_LOCK, nullptr) == 0;
        if (done) ++locked;
      }
      if (c == 'a' && removed < ids.size()) {
        void* a = ::shmat(ids[removed], nullptr, SHM_RDONLY);
        if (a != reinterpret_cast<void*>(-1)) {
          attached.push_back(a);
          done = true;
        }
      } else if (c == 'r' && removed < ids.size()) {
        done = ::shmctl(ids[removed], IPC_RMID, nullptr) == 0;
        if (done) ++removed;
      }
      if (::write(answers, done ? "k" : "e", 1) != 1) break;
    }
    clean_up();
    return 0;
  }

  pid_t pid_ = -1;
  UniqueFd commands_;
  UniqueFd answers_;
  std::string error_;
  std::vector<int> ids_;
};

// ---------------------------------------------------------------- reading namespaces

std::unique_ptr<IpcNamespaceService> StartService() {
  Result<std::unique_ptr<IpcNamespaceService>> service = IpcNamespaceService::Start();
  EXPECT_TRUE(service.ok()) << service.status().message();
  return service.ok() ? std::move(service).value() : nullptr;
}

UniqueFd OpenOwnNamespace(const char* type = "ipc") {
  UniqueFd fd(::open((std::string("/proc/self/ns/") + type).c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_TRUE(fd.valid()) << std::strerror(errno);
  return fd;
}

TEST(IpcNamespaceServiceTest, ReadsTheSegmentsOfAnotherIpcNamespaceExactly) {
  UBC_REQUIRE_ROOT();
  std::unique_ptr<IpcNamespaceService> service = StartService();
  ASSERT_NE(service, nullptr);
  const ShmUsage own_before = OwnShmForTest();
  NamespaceChild child(3);
  ASSERT_TRUE(child.ok()) << child.error();

  Result<std::unique_ptr<ContainerIpcNamespace>> ns =
      ContainerIpcNamespace::Open(service.get(), child.pid());
  ASSERT_TRUE(ns.ok()) << ns.status().message();
  EXPECT_FALSE((*ns)->shares_ubcd_namespace());
  EXPECT_EQ((*ns)->pid(), child.pid());
  Result<ShmUsage> usage = (*ns)->Usage();
  ASSERT_TRUE(usage.ok()) << usage.status().message();
  EXPECT_EQ(usage->pages, 3 * SegmentPages());
  EXPECT_EQ(usage->segments, 3u);

  // The child's segments are not ubcd's, and reading them changed nothing here.
  const ShmUsage own_after = OwnShmForTest();
  EXPECT_EQ(own_after.pages, own_before.pages);
  EXPECT_EQ(own_after.segments, own_before.segments);
  // ubcd's own namespace, directly and through the reader, agree with that.
  Result<std::unique_ptr<ContainerIpcNamespace>> own =
      ContainerIpcNamespace::Open(service.get(), ::getpid());
  ASSERT_TRUE(own.ok()) << own.status().message();
  EXPECT_TRUE((*own)->shares_ubcd_namespace());
  Result<ShmUsage> own_usage = (*own)->Usage();
  ASSERT_TRUE(own_usage.ok()) << own_usage.status().message();
  EXPECT_EQ(own_usage->pages, own_after.pages);
  EXPECT_EQ(own_usage->segments, own_after.segments);
  const UniqueFd own_fd = OpenOwnNamespace();
  Result<ShmUsage> via_reader = service->ShmUsageOf(own_fd.get());
  ASSERT_TRUE(via_reader.ok()) << via_reader.status().message();
  EXPECT_EQ(via_reader->pages, own_after.pages);
  EXPECT_EQ(via_reader->segments, own_after.segments);

  // Read again: the same (the reader went back home in between).
  usage = (*ns)->Usage();
  ASSERT_TRUE(usage.ok()) << usage.status().message();
  EXPECT_EQ(usage->pages, 3 * SegmentPages());
  EXPECT_EQ(usage->segments, 3u);
}

TEST(IpcNamespaceServiceTest, TheReaderKeepsNoContainerNamespaceBetweenReads) {
  UBC_REQUIRE_ROOT();
  std::unique_ptr<IpcNamespaceService> service = StartService();
  ASSERT_NE(service, nullptr);
  NamespaceChild child(1);
  ASSERT_TRUE(child.ok()) << child.error();
  const std::string ours = ReadLink("/proc/self/ns/ipc");
  const std::string theirs = ReadLink("/proc/" + std::to_string(child.pid()) + "/ns/ipc");
  ASSERT_NE(ours, theirs);
  Result<std::unique_ptr<ContainerIpcNamespace>> ns =
      ContainerIpcNamespace::Open(service.get(), child.pid());
  ASSERT_TRUE(ns.ok()) << ns.status().message();
  ASSERT_TRUE((*ns)->Usage().ok());
  // Back in ubcd's namespace, holding no fd of the child's.
  const std::string reader = "/proc/" + std::to_string(service->pid());
  EXPECT_EQ(ReadLink(reader + "/ns/ipc"), ours);
  for (const auto& entry : std::filesystem::directory_iterator(reader + "/fd")) {
    EXPECT_NE(ReadLink(entry.path().string()), theirs) << entry.path();
  }
}

TEST(IpcNamespaceServiceTest, AFreshNamespaceReadsZero) {
  UBC_REQUIRE_ROOT();
  std::unique_ptr<IpcNamespaceService> service = StartService();
  ASSERT_NE(service, nullptr);
  NamespaceChild child(0);
  ASSERT_TRUE(child.ok()) << child.error();
  Result<std::unique_ptr<ContainerIpcNamespace>> ns =
      ContainerIpcNamespace::Open(service.get(), child.pid());
  ASSERT_TRUE(ns.ok()) << ns.status().message();
  Result<ShmUsage> usage = (*ns)->Usage();
  ASSERT_TRUE(usage.ok()) << usage.status().message();
  EXPECT_EQ(usage->pages, 0u);
  EXPECT_EQ(usage->segments, 0u);
}

TEST(IpcNamespaceServiceTest, RemovingASegmentLowersTheUsageUnlessItIsStillAttached) {
  UBC_REQUIRE_ROOT();
  std::unique_ptr<IpcNamespaceService> service = StartService();
  ASSERT_NE(service, nullptr);
  NamespaceChild child(3);
  ASSERT_TRUE(child.ok()) << child.error();
  Result<std::unique_ptr<ContainerIpcNamespace>> ns =
      ContainerIpcNamespace::Open(service.get(), child.pid());
  ASSERT_TRUE(ns.ok()) << ns.status().message();
  const auto expect_usage = [&](uint64_t segments) {
    Result<ShmUsage> usage = (*ns)->Usage();
    ASSERT_TRUE(usage.ok()) << usage.status().message();
    EXPECT_EQ(usage->pages, segments * SegmentPages());
    EXPECT_EQ(usage->segments, segments);
  };
  expect_usage(3);
  // Attached, then marked for removal: the kernel keeps it (and counts it)
  // until its last detach.
  ASSERT_TRUE(child.Command('a'));
  ASSERT_TRUE(child.Command('r'));
  expect_usage(3);
  // Not attached: gone at once.
  ASSERT_TRUE(child.Command('r'));
  expect_usage(2);
  ASSERT_TRUE(child.Command('r'));
  expect_usage(1);  // the attached one
}

TEST(IpcNamespaceServiceTest, LockedSegmentsAreCountedAndEachSegmentIsFoundByItsId) {
  UBC_REQUIRE_ROOT();
  std::unique_ptr<IpcNamespaceService> service = StartService();
  ASSERT_NE(service, nullptr);
  NamespaceChild child(3);
  ASSERT_TRUE(child.ok()) << child.error();
  Result<std::unique_ptr<ContainerIpcNamespace>> ns =
      ContainerIpcNamespace::Open(service.get(), child.pid());
  ASSERT_TRUE(ns.ok()) << ns.status().message();
  Result<ShmUsage> usage = (*ns)->Usage();
  ASSERT_TRUE(usage.ok()) << usage.status().message();
  EXPECT_EQ(usage->locked_pages, 0u);
  ASSERT_TRUE(child.Command('l'));
  ASSERT_TRUE(child.Command('l'));
  usage = (*ns)->Usage();
  ASSERT_TRUE(usage.ok()) << usage.status().message();
  EXPECT_EQ(usage->pages, 3 * SegmentPages());
  EXPECT_EQ(usage->locked_pages, 2 * SegmentPages());

  for (size_t i = 0; i < child.ids().size(); ++i) {
    Result<ShmSegment> segment = (*ns)->Segment(child.ids()[i]);
    ASSERT_TRUE(segment.ok()) << segment.status().message();
    EXPECT_TRUE(segment->exists) << i;
    EXPECT_EQ(segment->pages, SegmentPages()) << i;
    EXPECT_EQ(segment->locked, i < 2) << i;
  }
  // An id no segment has (in that namespace), and a negative one.
  int absent = 1;
  while (std::find(child.ids().begin(), child.ids().end(), absent) != child.ids().end()) ++absent;
  for (int id : {absent, -1}) {
    Result<ShmSegment> none = (*ns)->Segment(id);
    ASSERT_TRUE(none.ok()) << none.status().message();
    EXPECT_FALSE(none->exists) << id;
  }
  // Removed while locked and not attached: gone, so no longer locked memory.
  ASSERT_TRUE(child.Command('r'));
  usage = (*ns)->Usage();
  ASSERT_TRUE(usage.ok()) << usage.status().message();
  EXPECT_EQ(usage->locked_pages, SegmentPages());
  Result<ShmSegment> gone = (*ns)->Segment(child.ids()[0]);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->exists);
}

TEST(IpcNamespaceServiceTest, UbcdsOwnNamespaceFindsItsSegmentsWithoutTheReader) {
  UBC_REQUIRE_ROOT();
  Result<std::unique_ptr<ContainerIpcNamespace>> own =
      ContainerIpcNamespace::Open(nullptr, ::getpid());
  ASSERT_TRUE(own.ok()) << own.status().message();
  const int id = ::shmget(IPC_PRIVATE, SegmentBytes(), IPC_CREAT | 0600);
  ASSERT_GE(id, 0) << std::strerror(errno);
  const ShmUsage before = OwnShmForTest();
  const bool locked = ::shmctl(id, SHM_LOCK, nullptr) == 0;
  Result<ShmSegment> segment = (*own)->Segment(id);
  Result<ShmUsage> usage = (*own)->Usage();
  ::shmctl(id, IPC_RMID, nullptr);
  ASSERT_TRUE(locked) << std::strerror(errno);
  ASSERT_TRUE(segment.ok()) << segment.status().message();
  EXPECT_TRUE(segment->exists);
  EXPECT_TRUE(segment->locked);
  EXPECT_EQ(segment->pages, SegmentPages());
  ASSERT_TRUE(usage.ok()) << usage.status().message();
  EXPECT_GE(usage->locked_pages, SegmentPages());
  EXPECT_EQ(usage->segments, before.segments);
}

TEST(IpcNamespaceServiceTest, ANamespaceFdOfAnotherTypeIsAnErrorAndTheServiceGoesOn) {
  UBC_REQUIRE_ROOT();
  std::unique_ptr<IpcNamespaceService> service = StartService();
  ASSERT_NE(service, nullptr);
  const UniqueFd uts = OpenOwnNamespace("uts");
  Result<ShmUsage> usage = service->ShmUsageOf(uts.get());
  ASSERT_FALSE(usage.ok());
  EXPECT_EQ(usage.status().error_number(), EINVAL) << usage.status().message();
  EXPECT_NE(usage.status().message().find("ipc namespace reader"), std::string::npos)
      << usage.status().message();
  // Not a namespace at all: a pipe, a pidfd (which setns alone would take).
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  const UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  usage = service->ShmUsageOf(read_end.get());
  ASSERT_FALSE(usage.ok());
  EXPECT_EQ(usage.status().error_number(), EINVAL) << usage.status().message();
  const UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0)));
  ASSERT_TRUE(pidfd.valid()) << std::strerror(errno);
  usage = service->ShmUsageOf(pidfd.get());
  ASSERT_FALSE(usage.ok());
  EXPECT_EQ(usage.status().error_number(), EINVAL) << usage.status().message();
  // No fd at all: refused before anything is sent.
  usage = service->ShmUsageOf(-1);
  ASSERT_FALSE(usage.ok());
  EXPECT_EQ(usage.status().error_number(), EBADF);
  int closed[2];
  ASSERT_EQ(::pipe2(closed, O_CLOEXEC), 0);
  ::close(closed[0]);
  ::close(closed[1]);
  usage = service->ShmUsageOf(closed[0]);
  ASSERT_FALSE(usage.ok());
  EXPECT_EQ(usage.status().error_number(), EBADF);

  // Still answering.
  NamespaceChild child(2);
  ASSERT_TRUE(child.ok()) << child.error();
  Result<std::unique_ptr<ContainerIpcNamespace>> ns =
      ContainerIpcNamespace::Open(service.get(), child.pid());
  ASSERT_TRUE(ns.ok()) << ns.status().message();
  usage = (*ns)->Usage();
  ASSERT_TRUE(usage.ok()) << usage.status().message();
  EXPECT_EQ(usage->segments, 2u);
  EXPECT_EQ(usage->pages, 2 * SegmentPages());
}

TEST(IpcNamespaceServiceTest, WithoutAServiceOnlyUbcdsOwnNamespaceIsReadable) {
  UBC_REQUIRE_ROOT();
  Result<std::unique_ptr<ContainerIpcNamespace>> own =
      ContainerIpcNamespace::Open(nullptr, ::getpid());
  ASSERT_TRUE(own.ok()) << own.status().message();
  EXPECT_TRUE((*own)->shares_ubcd_namespace());
  const ShmUsage expected = OwnShmForTest();
  Result<ShmUsage> usage = (*own)->Usage();
  ASSERT_TRUE(usage.ok()) << usage.status().message();
  EXPECT_EQ(usage->pages, expected.pages);
  EXPECT_EQ(usage->segments, expected.segments);

  NamespaceChild child(1);
  ASSERT_TRUE(child.ok()) << child.error();
  Result<std::unique_ptr<ContainerIpcNamespace>> other =
      ContainerIpcNamespace::Open(nullptr, child.pid());
  ASSERT_TRUE(other.ok()) << other.status().message();
  EXPECT_FALSE((*other)->shares_ubcd_namespace());
  usage = (*other)->Usage();
  ASSERT_FALSE(usage.ok());
  EXPECT_EQ(usage.status().message(),
            "ipc namespace of pid " + std::to_string(child.pid()) +
                ": not ubcd's own, and no ipc namespace reader to read it (the reader must be "
                "started while ubcd has CAP_SYS_ADMIN)");
}

TEST(IpcNamespaceServiceTest, OpeningTheNamespaceOfNoProcessFails) {
  const pid_t gone = ::fork();
  ASSERT_GE(gone, 0);
  if (gone == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(gone, nullptr, 0), gone);
  Result<std::unique_ptr<ContainerIpcNamespace>> ns = ContainerIpcNamespace::Open(nullptr, gone);
  ASSERT_FALSE(ns.ok());
  EXPECT_EQ(ns.status().error_number(), ENOENT) << ns.status().message();
  EXPECT_EQ(ns.status().message(),
            "/proc/" + std::to_string(gone) + "/ns/ipc: " + std::strerror(ENOENT));
  for (int pid : {0, -1}) {
    ns = ContainerIpcNamespace::Open(nullptr, pid);
    ASSERT_FALSE(ns.ok());
    EXPECT_EQ(ns.status().error_number(), EINVAL);
  }
}

TEST(IpcNamespaceServiceTest, ManyThreadsEachGetTheirOwnAnswer) {
  UBC_REQUIRE_ROOT();
  std::unique_ptr<IpcNamespaceService> service = StartService();
  ASSERT_NE(service, nullptr);
  NamespaceChild small(1), large(4);
  ASSERT_TRUE(small.ok()) << small.error();
  ASSERT_TRUE(large.ok()) << large.error();
  auto a = ContainerIpcNamespace::Open(service.get(), small.pid());
  auto b = ContainerIpcNamespace::Open(service.get(), large.pid());
  ASSERT_TRUE(a.ok() && b.ok());
  std::atomic<int> wrong{0}, errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        const bool first = (i + t) % 2 == 0;
        Result<ShmUsage> u = (first ? *a : *b)->Usage();
        if (!u.ok()) {
          ++errors;
          continue;
        }
        const uint64_t segments = first ? 1 : 4;
        if (u->segments != segments || u->pages != segments * SegmentPages()) ++wrong;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
}

// ---------------------------------------------------------------- the reader process

std::map<std::string, std::string> StatusFields(int pid) {
  std::map<std::string, std::string> out;
  std::istringstream in(ReadFileForTest("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(in, line);) {
    const size_t colon = line.find(":\t");
    if (colon != std::string::npos) out[line.substr(0, colon)] = line.substr(colon + 2);
  }
  return out;
}

uint64_t Hex(const std::string& text) { return std::stoull(text, nullptr, 16); }

TEST(IpcNamespaceServiceTest, TheReaderKeepsOnlyCapSysAdminNoNewPrivsAndItsSocket) {
  UBC_REQUIRE_ROOT();
  // An fd the reader would inherit if it did not close them: no CLOEXEC.
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  std::unique_ptr<IpcNamespaceService> service = StartService();
  ASSERT_NE(service, nullptr);
  const auto status = StatusFields(service->pid());
  const uint64_t sys_admin = uint64_t{1} << CAP_SYS_ADMIN;
  ASSERT_EQ(status.count("CapEff"), 1u);
  EXPECT_EQ(Hex(status.at("CapEff")), sys_admin);
  EXPECT_EQ(Hex(status.at("CapPrm")), sys_admin);
  EXPECT_EQ(Hex(status.at("CapInh")), 0u);
  EXPECT_EQ(Hex(status.at("CapAmb")), 0u);
  EXPECT_EQ(Hex(status.at("CapBnd")), sys_admin);
  EXPECT_EQ(status.at("NoNewPrivs"), "1");
  // Its socket and its own namespace, nothing else.
  std::vector<std::string> fds;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(service->pid()) + "/fd")) {
    fds.push_back(ReadLink(entry.path().string()));
  }
  ASSERT_EQ(fds.size(), 2u) << ::testing::PrintToString(fds);
  std::sort(fds.begin(), fds.end());
  EXPECT_EQ(fds[0], ReadLink("/proc/self/ns/ipc"));
  EXPECT_EQ(fds[1].rfind("socket:[", 0), 0u) << fds[1];
  // So the pipe's write end is ours alone.
  write_end.reset();
  pollfd p{read_end.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 1000), 1);
  EXPECT_NE(p.revents & POLLHUP, 0);
}

TEST(IpcNamespaceServiceTest, AKilledReaderIsAnErrorAtOnceAndEveryCallAfter) {
  UBC_REQUIRE_ROOT();
  std::unique_ptr<IpcNamespaceService> service = StartService();
  ASSERT_NE(service, nullptr);
  const int pid = service->pid();
  const UniqueFd own = OpenOwnNamespace();
  ASSERT_TRUE(service->ShmUsageOf(own.get()).ok());
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(AwaitState(pid, WEXITED));
  auto start = steady_clock::now();
  Result<ShmUsage> usage = service->ShmUsageOf(own.get());
  EXPECT_LT(steady_clock::now() - start, IpcNamespaceService::kReplyTimeout);
  ASSERT_FALSE(usage.ok());
  const std::string expected =
      "ipc namespace reader (pid " + std::to_string(pid) + "): killed by signal 9";
  EXPECT_EQ(usage.status().message(), expected);
  // Broken for good: said at once.
  start = steady_clock::now();
  usage = service->ShmUsageOf(own.get());
  EXPECT_LT(steady_clock::now() - start, milliseconds(50));
  ASSERT_FALSE(usage.ok());
  EXPECT_EQ(usage.status().message(), expected);
  service.reset();
  EXPECT_TRUE(Reaped(pid));
}

TEST(IpcNamespaceServiceTest, AReaderThatDoesNotAnswerTimesOutAndIsKilled) {
  UBC_REQUIRE_ROOT();
  std::unique_ptr<IpcNamespaceService> service = StartService();
  ASSERT_NE(service, nullptr);
  const int pid = service->pid();
  const UniqueFd own = OpenOwnNamespace();
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  ASSERT_TRUE(AwaitState(pid, WSTOPPED));
  auto start = steady_clock::now();
  Result<ShmUsage> usage = service->ShmUsageOf(own.get());
  const auto waited = steady_clock::now() - start;
  ASSERT_FALSE(usage.ok());
  EXPECT_GE(waited, IpcNamespaceService::kReplyTimeout - milliseconds(10));
  EXPECT_LT(waited, IpcNamespaceService::kReplyTimeout + milliseconds(1000));
  EXPECT_EQ(usage.status().message(), "ipc namespace reader (pid " + std::to_string(pid) +
                                          "): no answer within 2000 ms; killed");
  // Killed, though stopped.
  EXPECT_TRUE(AwaitState(pid, WEXITED));
  start = steady_clock::now();
  EXPECT_FALSE(service->ShmUsageOf(own.get()).ok());
  EXPECT_LT(steady_clock::now() - start, milliseconds(50));
  service.reset();
  EXPECT_TRUE(Reaped(pid));
}

TEST(IpcNamespaceServiceTest, DestroyingTheServiceEndsAndReapsTheReader) {
  UBC_REQUIRE_ROOT();
  std::unique_ptr<IpcNamespaceService> service = StartService();
  ASSERT_NE(service, nullptr);
  const int pid = service->pid();
  const UniqueFd own = OpenOwnNamespace();
  ASSERT_TRUE(service->ShmUsageOf(own.get()).ok());
  const auto start = steady_clock::now();
  service.reset();
  // It left on end-of-file, not killed after the grace period.
  EXPECT_LT(steady_clock::now() - start, milliseconds(900));
  EXPECT_TRUE(Reaped(pid));  // no zombie left
  EXPECT_NE(::access(("/proc/" + std::to_string(pid)).c_str(), F_OK), 0);
}

// Runs `body` in a forked child and returns what it wrote (as in
// privileges_test); the child is reaped before this returns.
std::string InChild(const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return "setup=pipe\n";
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  const pid_t pid = ::fork();
  if (pid < 0) return "setup=fork\n";
  if (pid == 0) {
    read_end.reset();
    const std::string out = body();
    for (size_t done = 0; done < out.size();) {
      const ssize_t n = ::write(write_end.get(), out.data() + done, out.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::_exit(0);
  }
  write_end.reset();
  std::string out;
  for (;;) {
    pollfd p{read_end.get(), POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) {
      ADD_FAILURE() << "the child did not finish its report: killed";
      ::kill(pid, SIGKILL);
      break;
    }
    char buf[4096];
    const ssize_t n = ::read(read_end.get(), buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  return out;
}

// Start() in a child after `prepare`: its error and whether any child of
// its own is left.
std::string StartAfter(const std::function<bool()>& prepare) {
  if (!prepare()) return "setup failed";
  Result<std::unique_ptr<IpcNamespaceService>> service = IpcNamespaceService::Start();
  std::string out = service.ok() ? "started" : service.status().message();
  out += " / errno " + std::to_string(service.ok() ? 0 : service.status().error_number());
  service = Status::Error("dropped");
  const bool no_children = ::waitpid(-1, nullptr, WNOHANG) < 0 && errno == ECHILD;
  return out + (no_children ? " / no child left" : " / a child left");
}

TEST(IpcNamespaceServiceTest, StartingWithoutCapSysAdminFailsSayingSo) {
  UBC_REQUIRE_ROOT();
  const std::string report =
      InChild([] { return StartAfter([] { return DropPrivileges(true).ok(); }); });
  EXPECT_NE(report.find("): keeping CAP_SYS_ADMIN (the caller has none to give): "),
            std::string::npos)
      << report;
  EXPECT_NE(report.find(" / errno " + std::to_string(EPERM) + " / no child left"),
            std::string::npos)
      << report;
}

TEST(IpcNamespaceServiceTest, StartingWithoutCapSetpcapFailsSayingSo) {
  UBC_REQUIRE_ROOT();
  const std::string report = InChild([] {
    return StartAfter([] {
      cap_t caps = cap_get_proc();
      const cap_value_t setpcap[] = {CAP_SETPCAP};
      const bool ok =
          caps != nullptr && cap_set_flag(caps, CAP_EFFECTIVE, 1, setpcap, CAP_CLEAR) == 0 &&
          cap_set_flag(caps, CAP_PERMITTED, 1, setpcap, CAP_CLEAR) == 0 && cap_set_proc(caps) == 0;
      cap_free(caps);
      return ok;
    });
  });
  EXPECT_NE(report.find("): clearing the bounding set (needs CAP_SETPCAP): "), std::string::npos)
      << report;
  EXPECT_NE(report.find(" / errno " + std::to_string(EPERM) + " / no child left"),
            std::string::npos)
      << report;
}

// Waits (at most kChildWait) until /proc/PID/stat shows `state`.
bool StateIs(int pid, char state) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const auto deadline = steady_clock::now() + kChildWait;
  while (steady_clock::now() < deadline) {
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t paren = text.rfind(')');
    if (paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == state) {
      return true;
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  return false;
}

TEST(IpcNamespaceServiceTest, TheReaderDiesWithItsParent) {
  UBC_REQUIRE_ROOT();
  // The orphaned reader comes to this process, which reaps it.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  const pid_t parent = ::fork();
  ASSERT_GE(parent, 0);
  if (parent == 0) {
    // A stand-in for ubcd: starts the service and sleeps until killed.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    Result<std::unique_ptr<IpcNamespaceService>> service = IpcNamespaceService::Start();
    const int pid = service.ok() ? (*service)->pid() : -1;
    if (::write(write_end.get(), &pid, sizeof pid) != sizeof pid) ::_exit(1);
    for (;;) ::pause();
  }
  write_end.reset();
  int reader = -1;
  pollfd p{read_end.get(), POLLIN, 0};
  const bool reported =
      ::poll(&p, 1, 5000) == 1 && ::read(read_end.get(), &reader, sizeof reader) == sizeof reader;
  // Stopped first: a running reader would also leave on its own, at the
  // end-of-file that the parent's exit makes, and mask a missing death signal.
  const bool stopped =
      reported && reader > 0 && ::kill(reader, SIGSTOP) == 0 && StateIs(reader, 'T');
  ::kill(parent, SIGKILL);
  ::waitpid(parent, nullptr, 0);
  if (reported && reader > 0) {
    // Ours now (or soon: the parent's exit reparents it): wait at most 5 s.
    int status = 0;
    const auto deadline = steady_clock::now() + kChildWait;
    pid_t got = 0;
    while ((got = ::waitpid(reader, &status, WNOHANG)) <= 0 && steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    if (got != reader) {
      ::kill(reader, SIGKILL);
      ::waitpid(reader, &status, 0);
    }
    EXPECT_EQ(got, reader) << "the reader outlived its parent";
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  }
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);
  ASSERT_TRUE(reported);
  ASSERT_GT(reader, 0) << "the stand-in could not start the service";
  EXPECT_TRUE(stopped);
}

// ---------------------------------------------------------------- the reader's loop

// A reader loop in a child of the test's own, over a socketpair.
class LoopChild {
 public:
  LoopChild() {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return;
    UniqueFd theirs(pair[1]);
    socket_.reset(pair[0]);
    pid_ = ::fork();
    if (pid_ == 0) {
      socket_.reset();
      ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
      ::_exit(ServeIpcNamespaceRequests(theirs.get()));
    }
  }
  ~LoopChild() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  LoopChild(const LoopChild&) = delete;
  LoopChild& operator=(const LoopChild&) = delete;

  bool ok() const { return pid_ > 0 && socket_.valid(); }

  // Sends `len` bytes of `data` with `fds` and returns the reply; a failure
  // (and errno -1) when there is none of the right size within kChildWait.
  IpcNamespaceReply Exchange(const void* data, size_t len, const std::vector<int>& fds = {}) {
    IpcNamespaceReply reply;
    reply.error_number = -1;
    iovec iov{const_cast<void*>(data), len};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()) + sizeof(cmsghdr));
    if (!fds.empty()) {
      msg.msg_control = control.data();
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* h = CMSG_FIRSTHDR(&msg);
      h->cmsg_level = SOL_SOCKET;
      h->cmsg_type = SCM_RIGHTS;
      h->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(h), fds.data(), sizeof(int) * fds.size());
    }
    if (::sendmsg(socket_.get(), &msg, MSG_NOSIGNAL) < 0) {
      ADD_FAILURE() << "sendmsg: " << std::strerror(errno);
      return reply;
    }
    pollfd p{socket_.get(), POLLIN, 0};
    char buf[sizeof reply + 1];
    ssize_t n = -1;
    if (::poll(&p, 1, static_cast<int>(milliseconds(kChildWait).count())) == 1) {
      n = ::recv(socket_.get(), buf, sizeof buf, 0);
    }
    if (n != static_cast<ssize_t>(sizeof reply)) {
      ADD_FAILURE() << "a reply of " << n << " bytes";
      return reply;
    }
    std::memcpy(&reply, buf, sizeof reply);
    return reply;
  }

  // Closes the socket and returns the loop's exit code (-1 when it did not
  // leave within kChildWait).
  int Finish() {
    socket_.reset();
    const auto deadline = steady_clock::now() + kChildWait;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (steady_clock::now() > deadline) return -1;
      std::this_thread::sleep_for(milliseconds(5));
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  UniqueFd socket_;
};

IpcNamespaceRequest Request(uint32_t sequence, uint32_t op = IpcNamespaceRequest::kShmInfo) {
  IpcNamespaceRequest r;
  r.op = op;
  r.sequence = sequence;
  return r;
}

// A pipe whose write end is sent to the reader: once it closed every copy
// it got, the read end reads end-of-file when ours closes too.
struct WatchedPipe {
  WatchedPipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
  }
  bool NoOtherCopy() {
    write_end.reset();
    pollfd p{read_end.get(), POLLIN, 0};
    return ::poll(&p, 1, 1000) == 1 && (p.revents & POLLHUP) != 0;
  }
  UniqueFd read_end, write_end;
};

TEST(IpcNamespaceReaderLoopTest, AnswersGarbageWithErrorsClosesEveryFdAndGoesOn) {
  UBC_REQUIRE_ROOT();
  LoopChild loop;
  ASSERT_TRUE(loop.ok());

  // Raw bytes, no fd.
  IpcNamespaceReply reply = loop.Exchange("xyz", 3);
  EXPECT_EQ(reply.error_number, EMSGSIZE);
  EXPECT_EQ(reply.sequence, 0u);
  // An empty packet is not end-of-file while we are here.
  reply = loop.Exchange("", 0);
  EXPECT_EQ(reply.error_number, EMSGSIZE);
  // Too long, with an fd.
  {
    WatchedPipe pipe;
    char big[sizeof(IpcNamespaceRequest) + 1] = {};
    reply = loop.Exchange(big, sizeof big, {pipe.write_end.get()});
    EXPECT_EQ(reply.error_number, EMSGSIZE);
    EXPECT_TRUE(pipe.NoOtherCopy());
  }
  {
    WatchedPipe pipe;
    std::vector<char> huge(4096, 'x');
    reply = loop.Exchange(huge.data(), huge.size(), {pipe.write_end.get()});
    EXPECT_EQ(reply.error_number, EMSGSIZE);
    EXPECT_TRUE(pipe.NoOtherCopy());
  }
  // A request without its fd.
  IpcNamespaceRequest request = Request(7);
  reply = loop.Exchange(&request, sizeof request);
  EXPECT_EQ(reply.error_number, EBADF);
  EXPECT_EQ(reply.sequence, 7u);
  // Several fds: all closed, even the namespace among them.
  const UniqueFd own = OpenOwnNamespace();
  {
    WatchedPipe pipe;
    request = Request(8);
    const int w = pipe.write_end.get();
    reply = loop.Exchange(&request, sizeof request, {own.get(), w, w});
    EXPECT_EQ(reply.error_number, EBADF);
    EXPECT_EQ(reply.sequence, 8u);
    EXPECT_TRUE(pipe.NoOtherCopy());
  }
  // More fds than it has room for: the kernel drops the rest.
  {
    WatchedPipe pipe;
    request = Request(9);
    reply = loop.Exchange(&request, sizeof request, std::vector<int>(20, pipe.write_end.get()));
    EXPECT_EQ(reply.error_number, EBADF);
    EXPECT_TRUE(pipe.NoOtherCopy());
  }
  // An unknown op.
  request = Request(10, 99);
  reply = loop.Exchange(&request, sizeof request, {own.get()});
  EXPECT_EQ(reply.error_number, EOPNOTSUPP);
  EXPECT_EQ(reply.sequence, 10u);
  // Not an IPC namespace: another namespace, a pipe, a pidfd.
  const UniqueFd uts = OpenOwnNamespace("uts");
  request = Request(11);
  reply = loop.Exchange(&request, sizeof request, {uts.get()});
  EXPECT_EQ(reply.error_number, EINVAL);
  {
    WatchedPipe pipe;
    request = Request(12);
    reply = loop.Exchange(&request, sizeof request, {pipe.write_end.get()});
    EXPECT_EQ(reply.error_number, EINVAL);
    EXPECT_TRUE(pipe.NoOtherCopy());
  }
  const UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0)));
  ASSERT_TRUE(pidfd.valid());
  request = Request(13);
  reply = loop.Exchange(&request, sizeof request, {pidfd.get()});
  EXPECT_EQ(reply.error_number, EINVAL);

  // After all that, a good request is answered.
  const ShmUsage expected = OwnShmForTest();
  request = Request(14);
  reply = loop.Exchange(&request, sizeof request, {own.get()});
  EXPECT_EQ(reply.error_number, 0);
  EXPECT_EQ(reply.sequence, 14u);
  EXPECT_EQ(reply.pages, expected.pages);
  EXPECT_EQ(reply.segments, expected.segments);
  // End-of-file ends it, cleanly.
  EXPECT_EQ(loop.Finish(), 0);
}

// ---------------------------------------------------------------- a reader that lies

// Each fake reader reads one request and answers it wrongly, then waits
// for end-of-file.
IpcNamespaceRequest ReceiveRequest(int sock) {
  IpcNamespaceRequest request;
  char buf[64];
  const ssize_t n = ::recv(sock, buf, sizeof buf, 0);
  if (n == static_cast<ssize_t>(sizeof request)) std::memcpy(&request, buf, sizeof request);
  return request;
}

int WaitForEof(int sock) {
  char buf[64];
  while (::recv(sock, buf, sizeof buf, 0) > 0) {
  }
  return 0;
}

int ShortReply(int sock) {
  (void)ReceiveRequest(sock);
  (void)::send(sock, "12345", 5, MSG_NOSIGNAL);
  return WaitForEof(sock);
}

int LongReply(int sock) {
  (void)ReceiveRequest(sock);
  char big[100] = {};
  (void)::send(sock, big, sizeof big, MSG_NOSIGNAL);
  return WaitForEof(sock);
}

int ReplyToAnotherRequest(int sock) {
  IpcNamespaceReply reply;
  reply.sequence = ReceiveRequest(sock).sequence + 1;
  (void)::send(sock, &reply, sizeof reply, MSG_NOSIGNAL);
  return WaitForEof(sock);
}

int ReplyWithABadErrno(int sock) {
  IpcNamespaceReply reply;
  reply.sequence = ReceiveRequest(sock).sequence;
  reply.error_number = -3;
  (void)::send(sock, &reply, sizeof reply, MSG_NOSIGNAL);
  return WaitForEof(sock);
}

int ReplyWithAnFd(int sock) {
  IpcNamespaceReply reply;
  reply.sequence = ReceiveRequest(sock).sequence;
  (void)SendPacket(sock, &reply, sizeof reply, sock, 0);
  return WaitForEof(sock);
}

size_t OwnFdCount() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

TEST(IpcNamespaceServiceTest, AMalformedReplyBreaksTheServiceAndNothingOfItIsKept) {
  UBC_REQUIRE_ROOT();
  const struct {
    int (*serve)(int);
    std::string reason;
  } cases[] = {
      {ShortReply, "a reply of 5 bytes, not " + std::to_string(sizeof(IpcNamespaceReply))},
      {LongReply, "a reply of over " + std::to_string(sizeof(IpcNamespaceReply) + 1) +
                      " bytes, not " + std::to_string(sizeof(IpcNamespaceReply))},
      {ReplyToAnotherRequest, "a reply to request 2, not 1"},
      {ReplyWithABadErrno, "a reply with errno -3"},
      {ReplyWithAnFd, "a reply carrying fds"},
  };
  const UniqueFd own = OpenOwnNamespace();
  for (const auto& c : cases) {
    const size_t fds_before = OwnFdCount();
    Result<std::unique_ptr<IpcNamespaceService>> service =
        IpcNamespaceService::StartForTesting(c.serve);
    ASSERT_TRUE(service.ok()) << service.status().message();
    const int pid = (*service)->pid();
    const std::string expected =
        "ipc namespace reader (pid " + std::to_string(pid) + "): " + c.reason;
    Result<ShmUsage> usage = (*service)->ShmUsageOf(own.get());
    ASSERT_FALSE(usage.ok()) << c.reason;
    EXPECT_EQ(usage.status().message(), expected);
    // Killed, and said again at once.
    EXPECT_TRUE(AwaitState(pid, WEXITED)) << c.reason;
    usage = (*service)->ShmUsageOf(own.get());
    ASSERT_FALSE(usage.ok());
    EXPECT_EQ(usage.status().message(), expected);
    service = Status::Error("dropped");
    EXPECT_TRUE(Reaped(pid)) << c.reason;
    EXPECT_EQ(OwnFdCount(), fds_before) << c.reason;  // its socket, its pidfd, any fd it sent
  }
}

}  // namespace
}  // namespace ubc
