#include "supervisor/proc_members.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/proc_text.h"
#include "core/unique_fd.h"
#include "core/units.h"
#include "tests/unit/child_process.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

template <typename Pred>
bool Eventually(Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Moves the calling process into cgroup directory `dir`; 0 or -errno.
int JoinCgroup(const std::string& dir) {
  UniqueFd procs(::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
  if (!procs) return -errno;
  if (::write(procs.get(), "0", 1) != 1) return -errno;
  return 0;
}

// A child that holds; it reports 0 first.
int Hold(int hold_fd, int report_fd) {
  Report(report_fd, 0);
  AwaitRelease(hold_fd);
  return 0;
}

// A child that joins cgroup `dir` (unless empty) and forks `children`
// children that hold, reaping them as they exit. Each child reports its pid
// (or -errno), having joined `first_child_dir` first when it is the first
// and that is not empty.
ChildProcess::Body Tree(int children, const std::string& dir = "",
                        const std::string& first_child_dir = "") {
  return [=](int hold_fd, int report_fd) {
    const int joined = dir.empty() ? 0 : JoinCgroup(dir);
    if (joined != 0) {
      Report(report_fd, joined);
      return 1;
    }
    for (int i = 0; i < children; ++i) {
      const pid_t child = ::fork();
      if (child < 0) return 1;
      if (child == 0) {
        const int moved = i == 0 && !first_child_dir.empty() ? JoinCgroup(first_child_dir) : 0;
        Report(report_fd, moved != 0 ? moved : ::getpid());
        AwaitRelease(hold_fd);
        ::_exit(0);
      }
    }
    ReapAll();
    AwaitRelease(hold_fd);
    return 0;
  };
}

// The stack of a child that shares its parent's address space; used in the
// parent's copy of this memory, after fork.
alignas(64) char g_clone_stack[256 * 1024];

// Holds, with the system call itself: a child sharing its parent's memory
// should not enter the C library's (or a sanitizer's) per-thread state.
int HoldSharingMemory(void* hold_fd) {
  char c;
  long n;
  do {
    n = ::syscall(SYS_read, *static_cast<int*>(hold_fd), &c, 1);
  } while (n > 0 || (n < 0 && errno == EINTR));
  return 0;
}

// A child that starts a process sharing its address space (as vfork() and
// clone(CLONE_VM) do), reports that process's pid and holds.
ChildProcess::Body SharingAddressSpace() {
  return [](int hold_fd, int report_fd) {
    static int hold = hold_fd;  // outlives this frame: read by the sharer
    const pid_t sharer =
        ::clone(HoldSharingMemory, g_clone_stack + sizeof g_clone_stack, CLONE_VM | SIGCHLD, &hold);
    Report(report_fd, sharer < 0 ? -errno : sharer);
    ReapAll();
    AwaitRelease(hold_fd);
    return 0;
  };
}

// The pollfd a child blocked in ppoll(2) waits on; at the same address in
// the test process (the child is a fork of it).
pollfd g_hold_poll{};
constexpr uint64_t kSixthArgument = 0x5eed;

// A child blocked in ppoll(2) on its hold pipe, with all six argument
// registers known: g_hold_poll, 1, 0, 0, 8, kSixthArgument.
int BlockInPpoll(int hold_fd, int report_fd) {
  g_hold_poll = pollfd{hold_fd, POLLIN, 0};
  Report(report_fd, 0);
  while (::syscall(SYS_ppoll, &g_hold_poll, 1, nullptr, nullptr, 8, kSixthArgument) < 0 &&
         errno == EINTR) {
  }
  return 0;
}

// A child that never blocks until released (its /proc/PID/syscall says "running").
int Spin(int hold_fd, int report_fd) {
  Report(report_fd, 0);
  for (;;) {
    pollfd p{hold_fd, POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) return 0;
  }
}

// A child that makes a pid namespace whose init forks `children` children
// that hold; it reports the init's pid (as the test sees it), or -errno when
// the namespace could not be made: without root, a user namespace of its own
// is tried.
ChildProcess::Body PidNamespaceTree(int children) {
  return [children](int hold_fd, int report_fd) {
    if (::unshare(CLONE_NEWPID) != 0 && ::unshare(CLONE_NEWUSER | CLONE_NEWPID) != 0) {
      Report(report_fd, -errno);
      return 1;
    }
    const pid_t init = ::fork();
    if (init == 0) {
      for (int i = 0; i < children; ++i) {
        const pid_t child = ::fork();
        if (child < 0) ::_exit(1);
        if (child == 0) {
          AwaitRelease(hold_fd);
          ::_exit(0);
        }
      }
      ReapAll();
      AwaitRelease(hold_fd);
      ::_exit(0);
    }
    Report(report_fd, init < 0 ? -errno : init);
    ReapAll();
    AwaitRelease(hold_fd);
    return 0;
  };
}

// ---------------------------------------------------------------- cgroups

// A cgroup of the test's own, made below the test process's cgroup in the
// first hierarchy where that can be done (cgroup2 first); removed when
// destroyed, with the cgroups made below it, after moving back to the test's
// cgroup any process left in them. Needs root, or a delegated cgroup.
// Declare it before the children put in it, so that they are reaped before
// it is removed.
class TestCgroup {
 public:
  TestCgroup() {
    const std::string cgroups = ReadFileForTest("/proc/self/cgroup");
    const std::string mountinfo = ReadFileForTest("/proc/self/mountinfo");
    Result<std::vector<CgroupLine>> lines = ParseProcCgroup(cgroups);
    if (!lines.ok()) {
      why_ = "/proc/self/cgroup: " + lines.status().message();
      return;
    }
    std::vector<CgroupLine> order = *lines;
    std::stable_partition(order.begin(), order.end(),
                          [](const CgroupLine& l) { return l.controllers.empty(); });
    why_ = "no cgroup could be made:";
    for (const CgroupLine& line : order) {
      if (line.controllers.substr(0, 5) == "name=") continue;
      const std::optional<std::string_view> mount = CgroupMountPoint(mountinfo, line.controllers);
      if (!mount) continue;
      const std::string parent =
          std::string(*mount) + (line.path == "/" ? "" : std::string(line.path));
      std::string dir = parent + "/ubc-test-XXXXXX";
      if (::mkdtemp(dir.data()) == nullptr) {
        why_ += " " + parent + ": " + std::strerror(errno) + ";";
        continue;
      }
      parent_ = parent;
      dirs_.push_back(dir);
      why_.clear();
      return;
    }
  }
  ~TestCgroup() {
    for (auto dir = dirs_.rbegin(); dir != dirs_.rend(); ++dir) {
      std::ifstream in(*dir + "/cgroup.procs");
      for (int pid; in >> pid;) MoveTo(parent_, pid);
      // A cgroup whose last process was just reaped may be busy for a moment.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (::rmdir(dir->c_str()) != 0) {
        if (errno != EBUSY || std::chrono::steady_clock::now() > deadline) {
          ADD_FAILURE() << "rmdir " << *dir << ": " << std::strerror(errno);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  }
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;

  bool ok() const { return !dirs_.empty(); }
  const std::string& why() const { return why_; }
  // The cgroup's directory: its mount point and path, as /proc/PID/cgroup names it.
  const std::string& dir() const { return dirs_.front(); }
  // A cgroup `name` below this one, made now ("" and a failure when it cannot be).
  std::string MakeBelow(const std::string& name) {
    const std::string below = dir() + "/" + name;
    if (::mkdir(below.c_str(), 0755) != 0) {
      ADD_FAILURE() << "mkdir " << below << ": " << std::strerror(errno);
      return "";
    }
    dirs_.push_back(below);
    return below;
  }
  bool Move(int pid) { return MoveTo(dir(), pid); }

 private:
  static bool MoveTo(const std::string& dir, int pid) {
    const std::string text = std::to_string(pid);
    UniqueFd procs(::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    return procs &&
           ::write(procs.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
  }
  std::string parent_;
  std::vector<std::string> dirs_;  // dir() first, then the ones below it
  std::string why_;
};

// ---------------------------------------------------------------- helpers

// Beyond any pid the kernel hands out (PID_MAX_LIMIT is 2^22).
constexpr int kNoSuchPid = 1 << 30;

Membership CgroupAt(const std::string& dir) {
  Membership m;
  m.kind = Membership::Kind::kCgroup;
  m.cgroup_dir = dir;
  return m;
}

// Makes `dir` stand in for a cgroup directory whose cgroup.procs lists `pids`.
void ListIn(const TempDir& dir, const std::vector<int>& pids) {
  std::string text;
  for (int pid : pids) text += std::to_string(pid) + "\n";
  dir.Write("cgroup.procs", text);
}

std::vector<int> Tgids(const MembersSample& s) {
  std::vector<int> out;
  for (const auto& [tgid, pages] : s.data_pages_by_tgid) out.push_back(tgid);
  return out;
}

std::vector<int> Sorted(std::vector<int> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// statm "data" of a process, read independently of the code under test.
uint64_t StatmData(int pid) {
  std::istringstream in(ReadFileForTest("/proc/" + std::to_string(pid) + "/statm"));
  uint64_t field = 0;
  for (int i = 0; i < 6; ++i) in >> field;
  EXPECT_TRUE(in) << "statm of " << pid;
  return field;
}

// The pids a thread's children file lists.
std::set<int> ChildrenOf(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::set<int> out;
  for (int child; in >> child;) out.insert(child);
  return out;
}

char StateOf(int pid) {
  const std::string stat = ReadFileForTest("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() ? stat[close + 2] : '?';
}

size_t OpenFds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n;
}

// A thread of the test process that waits until Stop(); tid() is its id.
class ExtraThread {
 public:
  ExtraThread()
      : thread_([this] {
          std::unique_lock<std::mutex> lock(mu_);
          tid_ = static_cast<int>(::syscall(SYS_gettid));
          cv_.notify_all();
          cv_.wait(lock, [this] { return stop_; });
        }) {}
  ~ExtraThread() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  int tid() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return tid_ != 0; });
    return tid_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int tid_ = 0;
  bool stop_ = false;
  std::thread thread_;  // last: started once the rest is made
};

// ---------------------------------------------------------------- cgroup listing

// A process as an exec event finds it, without /proc.
class StubLocation : public ProcessLocation {
 public:
  int tgid() const override { return tgid_; }
  std::optional<std::string_view> CgroupPath(std::string_view controllers) override {
    if (controllers != controllers_) return std::nullopt;
    return std::string_view(path_);
  }
  bool PidNamespace(dev_t* dev, ino_t* ino) override {
    ++pidns_reads;
    *dev = dev_;
    *ino = ino_;
    return known_;
  }
  int tgid_ = 500;
  std::string controllers_;
  std::string path_ = "/";
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  bool known_ = true;
  int pidns_reads = 0;
};

TEST(ProcMembersTest, ContainsAProcessByTheMembershipsOwnTest) {
  Membership cg = CgroupAt("/sys/fs/cgroup/machine/ctr");
  cg.cgroup_path = "/machine/ctr";
  ProcMembers by_cgroup(cg);
  StubLocation where;
  where.path_ = "/machine/ctr/sub";
  EXPECT_TRUE(by_cgroup.Contains(where));
  where.path_ = "/machine/other";
  EXPECT_FALSE(by_cgroup.Contains(where));
  where.controllers_ = "memory";  // not in the container's hierarchy
  where.path_ = "/machine/ctr";
  EXPECT_FALSE(by_cgroup.Contains(where));
  EXPECT_EQ(where.pidns_reads, 0);  // a cgroup container reads no namespace

  Membership ns;
  ns.kind = Membership::Kind::kPidNamespace;
  ns.pidns_dev = 4;
  ns.pidns_ino = 4026532000;
  ProcMembers by_ns(ns);
  where.dev_ = 4;
  where.ino_ = 4026532000;
  EXPECT_TRUE(by_ns.Contains(where));
  where.ino_ = 4026531836;
  EXPECT_FALSE(by_ns.Contains(where));
  where.known_ = false;
  where.ino_ = 4026532000;
  EXPECT_FALSE(by_ns.Contains(where));

  ProcMembers observed(Membership{});
  EXPECT_FALSE(observed.Contains(where));
  observed.NoteProcess(where.tgid_);
  EXPECT_TRUE(observed.Contains(where));
}

// Counts its live instances: whether the members still hold it.
class CountedShmReader : public ShmReader {
 public:
  explicit CountedShmReader(int* alive) : alive_(alive) { ++*alive_; }
  ~CountedShmReader() override { --*alive_; }
  Result<ShmUsage> Usage() override { return ShmUsage{7, 1}; }

 private:
  int* alive_;
};

TEST(ProcMembersTest, ReleaseAllClosesTheIpcNamespace) {
  int alive = 0;
  ProcMembers members(Membership{});
  members.SetShmReader(std::make_unique<CountedShmReader>(&alive));
  ASSERT_EQ(alive, 1);
  Result<ShmUsage> usage = members.SharedMemory();
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->pages, 7u);

  members.ReleaseAll();
  EXPECT_EQ(alive, 0);
  EXPECT_FALSE(members.SharedMemory().ok());
}

TEST(ProcMembersTest, CgroupMembersAreTheListedProcessesWithTheirStatmData) {
  ChildProcess tree(Tree(2));
  const std::vector<int> kids = tree.Reported(2);
  ASSERT_EQ(kids.size(), 2u);
  TempDir dir("ubc-proc-members-test");
  // A listed pid that is no process is passed over.
  ListIn(dir, {tree.pid(), kids[0], kids[1], kNoSuchPid});
  ProcMembers members(CgroupAt(dir.path().string()));
  EXPECT_EQ(members.Describe(), "cgroup " + dir.path().string());
  EXPECT_EQ(members.membership().kind, Membership::Kind::kCgroup);

  MembersSample s;
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(s.processes, 3u);
  EXPECT_GT(s.generation, 0u);
  // The forked children have their own address spaces: each is counted,
  // even where their statm lines are the same.
  std::vector<std::pair<int, uint64_t>> want;
  uint64_t sum = 0;
  for (int pid : Sorted({tree.pid(), kids[0], kids[1]})) {
    want.emplace_back(pid, StatmData(pid));
    sum += want.back().second;
  }
  EXPECT_EQ(s.data_pages_by_tgid, want);
  EXPECT_EQ(s.data_pages, sum);
  EXPECT_GT(s.data_pages, 0u);
  EXPECT_EQ(s.DataPagesOf(::getpid()), nullptr);
}

// Past the budget of kept /proc fds a member keeps none and is read by path:
// still counted, exactly.
TEST(ProcMembersTest, PastTheKeptFdBudgetMembersAreReadByPathAndStillCounted) {
  ChildProcess tree(Tree(2));
  const std::vector<int> kids = tree.Reported(2);
  ASSERT_EQ(kids.size(), 2u);
  TempDir dir("ubc-proc-members-test");
  ListIn(dir, {tree.pid(), kids[0], kids[1]});
  const int64_t before = ProcMembers::KeptFds();
  ProcMembers::SetKeptFdBudget(before + 2);  // one member's dir and statm
  MembersSample s;
  uint64_t sum = 0;
  {
    ProcMembers members(CgroupAt(dir.path().string()));
    const Status sampled = members.Sample(&s);
    EXPECT_EQ(ProcMembers::KeptFds(), before + 2);
    ProcMembers::SetKeptFdBudget(INT64_MAX);
    ASSERT_TRUE(sampled.ok()) << sampled.message();
    for (int pid : {tree.pid(), kids[0], kids[1]}) sum += StatmData(pid);
    EXPECT_EQ(s.processes, 3u);
    EXPECT_EQ(s.data_pages, sum);
  }
  EXPECT_EQ(ProcMembers::KeptFds(), before) << "a member's fds go back to the budget";
}

// Out of fds, a new member cannot be opened: the sample fails (the decision
// follows on_error) instead of counting too little.
TEST(ProcMembersTest, AMemberThatCannotBeOpenedForWantOfFdsFailsTheSample) {
  ChildProcess child(Hold);
  ASSERT_EQ(child.Reported(1).size(), 1u);
  TempDir dir("ubc-proc-members-test");
  ListIn(dir, {child.pid()});
  ProcMembers members(CgroupAt(dir.path().string()));
  // Leave only the fds the listing needs (its cgroup dir and cgroup.procs
  // and the read of the latter), none for the member.
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  int highest = 0;
  for (int fd = 0; fd < 4096; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1) highest = fd;
  }
  // No free fd below the highest open one: the limit alone says how many
  // more can be opened.
  std::vector<UniqueFd> fillers;
  for (;;) {
    UniqueFd f(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!f || f.get() > highest) break;
    fillers.push_back(std::move(f));
  }
  MembersSample s;
  Status sampled = Status::Ok();
  for (int spare = 0; spare <= 3 && sampled.ok(); ++spare) {
    // The lowest limit that still lets the listing through, found by trying.
    ProcMembers fresh(CgroupAt(dir.path().string()));
    rlimit low = saved;
    low.rlim_cur = static_cast<rlim_t>(highest + 1 + spare);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
    sampled = fresh.Sample(&s);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
    if (!sampled.ok() && sampled.message().find("opening /proc/") != std::string::npos) break;
    if (!sampled.ok()) sampled = Status::Ok();  // the listing itself failed: one more fd
  }
  ASSERT_FALSE(sampled.ok()) << "the member was taken for gone";
  EXPECT_NE(sampled.message().find("opening /proc/" + std::to_string(child.pid())),
            std::string::npos)
      << sampled.message();
  EXPECT_EQ(sampled.error_number(), EMFILE);
  // With fds again the same reader counts it.
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(s.processes, 1u);
  EXPECT_EQ(s.data_pages, StatmData(child.pid()));
}

TEST(ProcMembersTest, TheListingIsKeptUntilTheMembershipMayHaveChanged) {
  ChildProcess tree(Tree(2));
  const std::vector<int> kids = tree.Reported(2);
  ASSERT_EQ(kids.size(), 2u);
  TempDir dir("ubc-proc-members-test");
  ListIn(dir, {tree.pid(), kids[0], kids[1]});
  ProcMembers members(CgroupAt(dir.path().string()));
  MembersSample s;
  ASSERT_TRUE(members.Sample(&s).ok());
  ASSERT_EQ(s.processes, 3u);
  const uint64_t generation = s.generation;

  ListIn(dir, {tree.pid()});
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(members.Sample(&s).ok());
    EXPECT_EQ(s.processes, 3u) << "sample " << i;
  }
  EXPECT_EQ(s.generation, generation);
  // A new process may be elsewhere (CLONE_PARENT): the members are listed afresh.
  members.ExpectNewProcess(-1);
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(Tgids(s), std::vector<int>{tree.pid()});
  EXPECT_GT(s.generation, generation);
}

TEST(ProcMembersTest, AThreadNotSeenBeforeMakesItListAgainOnce) {
  ChildProcess tree(Tree(2));
  const std::vector<int> kids = tree.Reported(2);
  ASSERT_EQ(kids.size(), 2u);
  TempDir dir("ubc-proc-members-test");
  ListIn(dir, {tree.pid(), kids[0], kids[1]});
  ProcMembers members(CgroupAt(dir.path().string()));
  members.NoteProcess(tree.pid());
  MembersSample s;
  ASSERT_TRUE(members.Sample(&s).ok());
  ASSERT_EQ(s.processes, 3u);

  ListIn(dir, {tree.pid(), kids[1]});
  members.NoteProcess(tree.pid());  // seen before: nothing new
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(s.processes, 3u);
  members.NoteProcess(kids[1]);  // not seen before: perhaps an exec, a new child
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(Tgids(s), Sorted({tree.pid(), kids[1]}));
}

TEST(ProcMembersTest, TheMembersAreListedAgainOnceTheListingIsStale) {
  ChildProcess tree(Tree(1));
  const std::vector<int> kids = tree.Reported(1);
  ASSERT_EQ(kids.size(), 1u);
  TempDir dir("ubc-proc-members-test");
  ListIn(dir, {tree.pid(), kids[0]});
  ProcMembers members(CgroupAt(dir.path().string()));
  MembersSample s;
  ASSERT_TRUE(members.Sample(&s).ok());
  ASSERT_EQ(s.processes, 2u);

  // Moved out unannounced: seen by the listing made at least every 100 ms
  // (the clock is looked at every 16th sample).
  ListIn(dir, {kids[0]});
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  int samples = 0;
  do {
    ASSERT_TRUE(members.Sample(&s).ok());
  } while (s.processes != 1 && ++samples < 16);
  EXPECT_EQ(Tgids(s), std::vector<int>{kids[0]});
}

TEST(ProcMembersTest, AMemberThatExitsIsDroppedAtOnce) {
  ChildProcess tree(Tree(2));
  const std::vector<int> kids = tree.Reported(2);
  ASSERT_EQ(kids.size(), 2u);
  TempDir dir("ubc-proc-members-test");
  ListIn(dir, {tree.pid(), kids[0], kids[1]});
  ProcMembers members(CgroupAt(dir.path().string()));
  MembersSample s;
  ASSERT_TRUE(members.Sample(&s).ok());
  ASSERT_EQ(s.processes, 3u);
  const uint64_t generation = s.generation;

  ASSERT_EQ(::kill(kids[1], SIGKILL), 0);
  // Reaped by its parent: its /proc directory is gone.
  ASSERT_TRUE(Eventually([&] { return ::kill(kids[1], 0) != 0 && errno == ESRCH; }));
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(Tgids(s), Sorted({tree.pid(), kids[0]}));
  EXPECT_GT(s.generation, generation);
  EXPECT_EQ(s.DataPagesOf(kids[1]), nullptr);
  // Still listed in cgroup.procs (the stand-in is not the kernel's): the
  // listing that follows an exit does not bring it back.
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(Tgids(s), Sorted({tree.pid(), kids[0]}));
}

TEST(ProcMembersTest, AListingThatFailsIsAnErrorAndIsTriedAgain) {
  ChildProcess child(Hold);
  ASSERT_EQ(child.Reported(1).size(), 1u);
  TempDir dir("ubc-proc-members-test");
  const std::string cgroup = dir.Path("c1").string();
  ProcMembers members(CgroupAt(cgroup));
  MembersSample s;
  Status first = members.Sample(&s);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.message(), cgroup + ": " + std::strerror(ENOENT));

  ASSERT_EQ(::mkdir(cgroup.c_str(), 0700), 0);
  WriteFileForTest(cgroup + "/cgroup.procs", std::to_string(child.pid()) + "\n");
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(Tgids(s), std::vector<int>{child.pid()});
}

// ---------------------------------------------------------------- forks

TEST(ProcMembersTest, AForkersChildrenJoinWithoutAListing) {
  ChildProcess tree(Tree(2));
  const std::vector<int> kids = tree.Reported(2);
  ASSERT_EQ(kids.size(), 2u);
  TempDir dir("ubc-proc-members-test");
  ListIn(dir, {tree.pid()});  // and it stays so: only the children file shows them
  ProcMembers members(CgroupAt(dir.path().string()));
  MembersSample s;
  ASSERT_TRUE(members.Sample(&s).ok());
  ASSERT_EQ(Tgids(s), std::vector<int>{tree.pid()});
  const uint64_t generation = s.generation;

  members.ExpectNewProcess(tree.pid());
  members.ExpectNewProcess(tree.pid());  // the same forker twice: read once
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(Tgids(s), Sorted({tree.pid(), kids[0], kids[1]}));
  EXPECT_GT(s.generation, generation);
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(s.processes, 3u);
}

TEST(ProcMembersTest, AForkerThatIsNotAMembersMainThreadMakesItListAgain) {
  ChildProcess tree(Tree(2));
  const std::vector<int> kids = tree.Reported(2);
  ASSERT_EQ(kids.size(), 2u);
  TempDir dir("ubc-proc-members-test");
  ListIn(dir, {tree.pid()});
  ProcMembers members(CgroupAt(dir.path().string()));
  MembersSample s;
  ASSERT_TRUE(members.Sample(&s).ok());
  ASSERT_EQ(s.processes, 1u);

  // Its children cannot be read through a member's kept directory.
  ListIn(dir, {tree.pid(), kids[0], kids[1]});
  members.ExpectNewProcess(kids[0]);
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(Tgids(s), Sorted({tree.pid(), kids[0], kids[1]}));
}

TEST(ProcMembersTest, ProcessesSharingAnAddressSpaceAreCountedOnce) {
  ChildProcess parent(SharingAddressSpace());
  const std::vector<int> sharer = parent.Reported(1);
  ASSERT_EQ(sharer.size(), 1u);
  ASSERT_GT(sharer[0], 0) << std::strerror(-sharer[0]);
  TempDir dir("ubc-proc-members-test");
  ListIn(dir, {parent.pid(), sharer[0]});
  ProcMembers members(CgroupAt(dir.path().string()));
  MembersSample s;
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(s.processes, 2u);
  const uint64_t data = StatmData(parent.pid());
  ASSERT_GT(data, 0u);
  const std::vector<std::pair<int, uint64_t>> want =
      parent.pid() < sharer[0]
          ? std::vector<std::pair<int, uint64_t>>{{parent.pid(), data}, {sharer[0], data}}
          : std::vector<std::pair<int, uint64_t>>{{sharer[0], data}, {parent.pid(), data}};
  EXPECT_EQ(s.data_pages_by_tgid, want);
  EXPECT_EQ(s.data_pages, data);
}

// A child that locks `pages` of its memory (mlock) and then shares its
// address space with a clone of itself, whose pid it reports.
ChildProcess::Body LockingAndSharing(int pages) {
  return [pages](int hold_fd, int report_fd) {
    static int hold = hold_fd;
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    void* area = ::mmap(nullptr, static_cast<size_t>(pages) * page, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    // The system call itself: sanitizers make the libc mlock a no-op.
    if (area == MAP_FAILED || ::syscall(SYS_mlock, area, static_cast<size_t>(pages) * page) != 0) {
      Report(report_fd, -errno);
      return 1;
    }
    const pid_t sharer =
        ::clone(HoldSharingMemory, g_clone_stack + sizeof g_clone_stack, CLONE_VM | SIGCHLD, &hold);
    Report(report_fd, sharer < 0 ? -errno : sharer);
    ReapAll();
    AwaitRelease(hold_fd);
    return 0;
  };
}

TEST(ProcMembersTest, LockedPagesAreTheSumOfVmLckOverDistinctAddressSpaces) {
  UBC_REQUIRE_ROOT();
  ChildProcess first(LockingAndSharing(3));
  ChildProcess second(LockingAndSharing(5));
  const std::vector<int> first_sharer = first.Reported(1);
  const std::vector<int> second_sharer = second.Reported(1);
  ASSERT_EQ(first_sharer.size(), 1u);
  ASSERT_EQ(second_sharer.size(), 1u);
  ASSERT_GT(first_sharer[0], 0) << std::strerror(-first_sharer[0]);
  ASSERT_GT(second_sharer[0], 0) << std::strerror(-second_sharer[0]);
  TempDir dir("ubc-proc-members-test");
  ListIn(dir, {first.pid(), first_sharer[0], second.pid(), second_sharer[0]});
  ProcMembers members(CgroupAt(dir.path().string()));
  MembersSample s;
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(s.processes, 4u);
  // Each address space once: the sharers show their parent's VmLck.
  Result<uint64_t> locked = members.LockedPages();
  ASSERT_TRUE(locked.ok()) << locked.status().message();
  EXPECT_EQ(*locked, 8u);
}

TEST(ProcMembersTest, NoMembersLockNothing) {
  ChildProcess tree(Tree(1));
  ASSERT_EQ(tree.Reported(1).size(), 1u);
  TempDir dir("ubc-proc-members-test");
  ListIn(dir, {tree.pid()});
  ProcMembers members(CgroupAt(dir.path().string()));
  MembersSample s;
  ASSERT_TRUE(members.Sample(&s).ok());
  Result<uint64_t> locked = members.LockedPages();
  ASSERT_TRUE(locked.ok()) << locked.status().message();
  EXPECT_EQ(*locked, 0u);
  EXPECT_FALSE(members.SharedSegment(0).ok());  // no IPC namespace given
}

// ---------------------------------------------------------------- observed, pid namespace

TEST(ProcMembersTest, ObservedMembersAreTheThreadGroupsOfTheThreadsSeen) {
  ExtraThread thread;
  ChildProcess child(Hold);
  ASSERT_EQ(child.Reported(1).size(), 1u);
  ProcMembers members(Membership{});
  EXPECT_EQ(members.Describe(), "observed processes");
  MembersSample s;
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(s.processes, 0u);

  members.NoteProcess(thread.tid());  // a thread of the test process
  members.NoteProcess(child.pid());
  members.NoteProcess(kNoSuchPid);  // gone: dropped
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(Tgids(s), Sorted({::getpid(), child.pid()}));
  EXPECT_EQ(*s.DataPagesOf(child.pid()), StatmData(child.pid()));
  // Forked children join by trapping, not by being forked.
  members.ExpectNewProcess(child.pid());
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(s.processes, 2u);
}

// A child with a writable shared anonymous mapping of 64 pages and a
// read-only one of 16 that forks once (its child shares both objects),
// reports both pids and holds.
int HoldSharedAnonymous(int hold_fd, int report_fd) {
  void* rw =
      ::mmap(nullptr, 64 * kPageBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  void* ro = ::mmap(nullptr, 16 * kPageBytes, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (rw == MAP_FAILED || ro == MAP_FAILED) {
    Report(report_fd, -errno);
    return 1;
  }
  const pid_t child = ::fork();
  if (child < 0) return 1;
  if (child == 0) {
    AwaitRelease(hold_fd);
    ::_exit(0);
  }
  Report(report_fd, ::getpid());
  Report(report_fd, child);
  ReapAll();
  AwaitRelease(hold_fd);
  return 0;
}

TEST(ProcMembersTest, SharedAnonymousObjectsAreCountedOnceWhenAsked) {
  ChildProcess parent(HoldSharedAnonymous);
  const std::vector<int> pids = parent.Reported(2);
  ASSERT_EQ(pids.size(), 2u);
  ASSERT_GT(pids[0], 0) << "mmap: " << std::strerror(-pids[0]);
  ProcMembers members(Membership{});
  members.NoteProcess(pids[0]);
  members.NoteProcess(pids[1]);
  MembersSample s;
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(s.processes, 2u);
  EXPECT_EQ(s.shared_anon_pages, 0u);  // not asked (bc2006): no maps read
  members.CountSharedAnonymous();
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(s.shared_anon_pages, 64u);  // in two address spaces, writable in both; once
}

TEST(ProcMembersTest, PidNamespaceMembersAreTheProcessesInIt) {
  ChildProcess parent(PidNamespaceTree(2));
  const std::vector<int> init = parent.Reported(1);
  ASSERT_EQ(init.size(), 1u);
  UBC_REQUIRE(init[0] > 0, std::string("cannot make a pid namespace: ") + std::strerror(-init[0]));
  ASSERT_TRUE(Eventually([&] { return ChildrenOf(init[0]).size() == 2; }));
  const std::set<int> children = ChildrenOf(init[0]);
  Membership m;
  m.kind = Membership::Kind::kPidNamespace;
  ASSERT_TRUE(
      PidNamespaceOf("/proc/" + std::to_string(init[0]) + "/ns/pid", &m.pidns_dev, &m.pidns_ino));
  ProcMembers members(m);
  MembersSample s;
  ASSERT_TRUE(members.Sample(&s).ok());
  // Not the process that made the namespace (it is outside), nor the test.
  std::vector<int> want(children.begin(), children.end());
  want.push_back(init[0]);
  EXPECT_EQ(Tgids(s), Sorted(want));
  EXPECT_EQ(s.DataPagesOf(parent.pid()), nullptr);
}

// ---------------------------------------------------------------- a real cgroup

TEST(ProcMembersTest, ARealCgroupsMembersIncludeTheCgroupsBelowIt) {
  TestCgroup cgroup;
  UBC_REQUIRE(cgroup.ok(), cgroup.why());
  const std::string inner = cgroup.MakeBelow("inner");
  ASSERT_FALSE(inner.empty());
  ChildProcess tree(Tree(2, cgroup.dir(), inner));
  const std::vector<int> kids = tree.Reported(2);
  ASSERT_EQ(kids.size(), 2u);
  ASSERT_GT(kids[0], 0) << std::strerror(-kids[0]);
  ASSERT_GT(kids[1], 0) << std::strerror(-kids[1]);
  ProcMembers members(CgroupAt(cgroup.dir()));
  MembersSample s;
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(Tgids(s), Sorted({tree.pid(), kids[0], kids[1]}));

  // Moved in from outside: found when the members are listed again (through
  // cgroup.procs kept open on cgroup2, read again from its start).
  ChildProcess late(Hold);
  ASSERT_EQ(late.Reported(1).size(), 1u);
  ASSERT_TRUE(cgroup.Move(late.pid()));
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(s.processes, 3u);
  members.ExpectNewProcess(-1);
  ASSERT_TRUE(members.Sample(&s).ok());
  EXPECT_EQ(Tgids(s), Sorted({tree.pid(), kids[0], kids[1], late.pid()}));
}

// ---------------------------------------------------------------- threads, calls, children

TEST(ProcMembersTest, TheThreadGroupOfAThreadIsItsProcess) {
  ExtraThread thread;
  ChildProcess child(Hold);
  ASSERT_EQ(child.Reported(1).size(), 1u);
  ProcMembers members(Membership{});
  ASSERT_NE(thread.tid(), ::getpid());
  EXPECT_EQ(members.ThreadGroupOf(thread.tid()), ::getpid());
  EXPECT_EQ(members.ThreadGroupOf(::getpid()), ::getpid());
  EXPECT_EQ(members.ThreadGroupOf(child.pid()), child.pid());
  EXPECT_EQ(members.ThreadGroupOf(kNoSuchPid), -1);
  EXPECT_EQ(ReadThreadGroupId(thread.tid()), ::getpid());
  EXPECT_EQ(ReadThreadGroupId(kNoSuchPid), -1);
}

TEST(ProcMembersTest, ProgressSaysInsideOnlyForTheVeryCallTheThreadIsBlockedIn) {
  ChildProcess blocked(BlockInPpoll);
  ChildProcess spinning(Spin);
  ASSERT_EQ(blocked.Reported(1).size(), 1u);
  ASSERT_EQ(spinning.Reported(1).size(), 1u);
  const std::string syscall_file = "/proc/" + std::to_string(blocked.pid()) + "/syscall";
  const std::string ppoll = std::to_string(SYS_ppoll) + " ";
  ASSERT_TRUE(Eventually([&] { return ReadFileForTest(syscall_file).rfind(ppoll, 0) == 0; }));

  ProcMembers members(Membership{});
  const std::array<uint64_t, 6> args = {
      reinterpret_cast<uint64_t>(&g_hold_poll), 1, 0, 0, 8, kSixthArgument};
  EXPECT_EQ(members.Progress(blocked.pid(), SYS_ppoll, args), CallProgress::kInside);
  std::array<uint64_t, 6> other = args;
  other[5] = kSixthArgument + 1;
  EXPECT_EQ(members.Progress(blocked.pid(), SYS_ppoll, other), CallProgress::kDone);
  EXPECT_EQ(members.Progress(blocked.pid(), SYS_read, args), CallProgress::kDone);
  EXPECT_EQ(members.Progress(spinning.pid(), SYS_ppoll, args), CallProgress::kUnknown);
  EXPECT_EQ(members.Progress(kNoSuchPid, SYS_ppoll, args), CallProgress::kDone);
}

TEST(ProcMembersTest, ChildrenAreReapedOnlyOnceEveryOneIsReaped) {
  // The test process itself is the member whose children are looked at.
  ProcMembers members(Membership{});
  members.NoteProcess(::getpid());
  MembersSample s;
  ASSERT_TRUE(members.Sample(&s).ok());
  ASSERT_EQ(Tgids(s), std::vector<int>{::getpid()});
  EXPECT_TRUE(members.ChildrenReaped(::getpid()));

  ChildProcess child(Hold);
  ASSERT_EQ(child.Reported(1).size(), 1u);
  EXPECT_FALSE(members.ChildrenReaped(::getpid()));
  // Exited but not reaped: a zombie still holds what it had.
  ASSERT_EQ(::kill(child.pid(), SIGKILL), 0);
  ASSERT_TRUE(Eventually([&] { return StateOf(child.pid()) == 'Z'; }));
  EXPECT_FALSE(members.ChildrenReaped(::getpid()));
  child.Release();
  EXPECT_TRUE(members.ChildrenReaped(::getpid()));

  // Only a member's main thread is told: another thread, or a process that
  // is not a member, is never said to have reaped everything.
  ExtraThread thread;
  EXPECT_FALSE(members.ChildrenReaped(thread.tid()));
  ChildProcess outsider(Hold);
  ASSERT_EQ(outsider.Reported(1).size(), 1u);
  EXPECT_FALSE(members.ChildrenReaped(outsider.pid()));
}

TEST(ProcMembersTest, ReleaseAllClosesEveryFdItKept) {
  ChildProcess tree(Tree(2));
  const std::vector<int> kids = tree.Reported(2);
  ASSERT_EQ(kids.size(), 2u);
  TempDir dir("ubc-proc-members-test");
  ListIn(dir, {tree.pid()});
  const size_t before = OpenFds();
  ProcMembers members(CgroupAt(dir.path().string()));
  MembersSample s;
  ASSERT_TRUE(members.Sample(&s).ok());
  members.ExpectNewProcess(tree.pid());
  ASSERT_TRUE(members.Sample(&s).ok());
  ASSERT_EQ(s.processes, 3u);
  EXPECT_GT(OpenFds(), before);
  members.ReleaseAll();
  EXPECT_EQ(OpenFds(), before);
}

}  // namespace
}  // namespace ubc
