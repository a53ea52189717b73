#include "supervisor/membership.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/proc_text.h"
#include "core/unique_fd.h"
#include "tests/unit/child_process.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

// Moves the calling process into cgroup directory `dir`; 0 or -errno.
int JoinCgroup(const std::string& dir) {
  UniqueFd procs(::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
  if (!procs) return -errno;
  if (::write(procs.get(), "0", 1) != 1) return -errno;
  return 0;
}

// A child that joins cgroup `dir` (unless empty), reports 0 (or -errno) and holds.
ChildProcess::Body Holder(const std::string& dir = "") {
  return [dir](int hold_fd, int report_fd) {
    const int joined = dir.empty() ? 0 : JoinCgroup(dir);
    Report(report_fd, joined);
    if (joined != 0) return 1;
    AwaitRelease(hold_fd);
    return 0;
  };
}

// A child that makes a pid namespace and forks its init, which holds; it
// reports the init's pid (as the test sees it), or -errno when the namespace
// could not be made: without root, a user namespace of its own is tried.
// Cgroup `dir` (unless empty) is joined by the child before the fork, so the
// child (outside the namespace) is in it too, or with `init_alone` by the init
// only, as a runtime places a container's init.
ChildProcess::Body PidNamespaceInit(const std::string& dir = "", bool init_alone = false) {
  return [dir, init_alone](int hold_fd, int report_fd) {
    const int joined = dir.empty() || init_alone ? 0 : JoinCgroup(dir);
    if (joined != 0) {
      Report(report_fd, joined);
      return 1;
    }
    if (::unshare(CLONE_NEWPID) != 0 && ::unshare(CLONE_NEWUSER | CLONE_NEWPID) != 0) {
      Report(report_fd, -errno);
      return 1;
    }
    int ready[2];
    if (::pipe(ready) != 0) {
      Report(report_fd, -errno);
      return 1;
    }
    const pid_t init = ::fork();
    if (init == 0) {
      const char joined_init = !init_alone || JoinCgroup(dir) == 0 ? 'y' : 'n';
      if (::write(ready[1], &joined_init, 1) != 1) ::_exit(1);
      AwaitRelease(hold_fd);
      ::_exit(0);
    }
    char joined_init = 'n';
    const bool ok = init > 0 && ::read(ready[0], &joined_init, 1) == 1 && joined_init == 'y';
    Report(report_fd, init < 0 ? -errno : ok ? init : -EPERM);
    ReapAll();
    AwaitRelease(hold_fd);
    return 0;
  };
}

// ---------------------------------------------------------------- cgroups

// A cgroup of the test's own, made below the test process's cgroup in the
// first hierarchy where that can be done (cgroup2 first); removed when
// destroyed, after moving back to the test's cgroup any process left in it.
// Needs root, or a delegated cgroup. Declare it before the children put in
// it, so that they are reaped before it is removed.
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
      dir_ = dir;
      controllers_ = std::string(line.controllers);
      why_.clear();
      return;
    }
  }
  ~TestCgroup() {
    if (dir_.empty()) return;
    std::ifstream in(dir_ + "/cgroup.procs");
    for (int pid; in >> pid;) {
      const std::string text = std::to_string(pid);
      UniqueFd procs(::open((parent_ + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
      if (procs) {
        [[maybe_unused]] ssize_t n = ::write(procs.get(), text.data(), text.size());
      }
    }
    // A cgroup whose last process was just reaped may be busy for a moment.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (::rmdir(dir_.c_str()) != 0) {
      if (errno != EBUSY || std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "rmdir " << dir_ << ": " << std::strerror(errno);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;

  bool ok() const { return !dir_.empty(); }
  const std::string& why() const { return why_; }
  // The cgroup's directory: its mount point and path, as /proc/PID/cgroup names it.
  const std::string& dir() const { return dir_; }
  // Its hierarchy's controllers as /proc/PID/cgroup names them ("" is cgroup2).
  const std::string& controllers() const { return controllers_; }

 private:
  std::string controllers_;
  std::string parent_;
  std::string dir_;
  std::string why_;
};

// Beyond any pid the kernel hands out (PID_MAX_LIMIT is 2^22).
constexpr int kNoSuchPid = 1 << 30;

std::string NsPath(int pid) { return "/proc/" + std::to_string(pid) + "/ns/pid"; }

// ---------------------------------------------------------------- tests

TEST(MembershipTest, DescribeSaysHowMembersAreFound) {
  Membership m;
  EXPECT_EQ(m.kind, Membership::Kind::kObserved);
  EXPECT_EQ(m.Describe(), "observed processes");
  m.kind = Membership::Kind::kCgroup;
  m.cgroup_dir = "/sys/fs/cgroup/machine.slice/c1";
  EXPECT_EQ(m.Describe(), "cgroup /sys/fs/cgroup/machine.slice/c1");
  m.kind = Membership::Kind::kPidNamespace;
  m.pidns_ino = 4026532281;
  EXPECT_EQ(m.Describe(), "pid namespace 4026532281");
}

TEST(MembershipTest, PidNamespaceOfIsTheDeviceAndInodeOfTheNsFile) {
  dev_t dev = 0;
  ino_t ino = 0;
  ASSERT_TRUE(PidNamespaceOf("/proc/self/ns/pid", &dev, &ino));
  struct stat st {};
  ASSERT_EQ(::stat("/proc/self/ns/pid", &st), 0);
  EXPECT_EQ(dev, st.st_dev);
  EXPECT_EQ(ino, st.st_ino);
  EXPECT_NE(ino, 0u);

  // Another file is another inode: it is the file named that is looked at.
  dev_t net_dev = 0;
  ino_t net_ino = 0;
  ASSERT_TRUE(PidNamespaceOf("/proc/self/ns/net", &net_dev, &net_ino));
  EXPECT_NE(net_ino, ino);

  TempDir dir("ubc-membership-test");
  dev_t untouched_dev = 7;
  ino_t untouched_ino = 9;
  EXPECT_FALSE(PidNamespaceOf(dir.Path("missing").string(), &untouched_dev, &untouched_ino));
  EXPECT_EQ(untouched_dev, 7u);
  EXPECT_EQ(untouched_ino, 9u);
}

TEST(MembershipTest, AnInitSharingTheRuntimesCgroupsAndPidNamespaceIsObserved) {
  ChildProcess init(Holder());
  ASSERT_EQ(init.Reported(1), std::vector<int>{0});
  const Membership m = DetermineMembership(init.pid(), ::getpid());
  EXPECT_EQ(m.kind, Membership::Kind::kObserved);
  EXPECT_EQ(m.cgroup_dir, "");
  EXPECT_EQ(m.Describe(), "observed processes");
}

TEST(MembershipTest, AnInitThatIsGoneIsObserved) {
  EXPECT_EQ(DetermineMembership(kNoSuchPid, ::getpid()).kind, Membership::Kind::kObserved);
  EXPECT_EQ(DetermineMembership(kNoSuchPid, -1).kind, Membership::Kind::kObserved);
}

TEST(MembershipTest, AnInitInACgroupOfItsOwnIsFoundByItsCgroup) {
  TestCgroup cgroup;
  UBC_REQUIRE(cgroup.ok(), cgroup.why());
  ChildProcess init(Holder(cgroup.dir()));
  ASSERT_EQ(init.Reported(1), std::vector<int>{0});
  const Membership m = DetermineMembership(init.pid(), ::getpid());
  EXPECT_EQ(m.kind, Membership::Kind::kCgroup);
  EXPECT_EQ(m.cgroup_dir, cgroup.dir());
  EXPECT_EQ(m.Describe(), "cgroup " + cgroup.dir());
  // Its place in the hierarchy, as /proc/PID/cgroup writes it, holds the
  // init (exec events are placed by it).
  ASSERT_FALSE(m.cgroup_path.empty());
  EXPECT_TRUE(cgroup.dir().ends_with(m.cgroup_path));
  EXPECT_TRUE(m.CgroupHolds(m.cgroup_path));
}

TEST(MembershipTest, OwnCgroupDirIsTheInitsCgroupWhereTheControllersFileIsThere) {
  TestCgroup cgroup;
  UBC_REQUIRE(cgroup.ok(), cgroup.why());
  ChildProcess init(Holder(cgroup.dir()));
  ASSERT_EQ(init.Reported(1), std::vector<int>{0});
  // TestCgroup prefers cgroup2, where the probe file says whether the
  // controller is enabled; a v1 hierarchy is taken by its name.
  const std::string controller =
      cgroup.controllers().empty() ? "pids"
                                   : cgroup.controllers().substr(0, cgroup.controllers().find(','));
  EXPECT_EQ(OwnCgroupDir(init.pid(), ::getpid(), controller, "cgroup.procs"), cgroup.dir());
  EXPECT_EQ(OwnCgroupDir(init.pid(), ::getpid(), controller, "no-such.file"), "");
  EXPECT_EQ(OwnCgroupDir(init.pid(), -1, controller, "cgroup.procs"), "");  // nothing to compare
  EXPECT_EQ(OwnCgroupDir(kNoSuchPid, ::getpid(), controller, "cgroup.procs"), "");
}

TEST(MembershipTest, OwnCgroupDirIsNoneWhenTheRuntimeSharesTheCgroup) {
  TestCgroup cgroup;
  UBC_REQUIRE(cgroup.ok(), cgroup.why());
  ChildProcess init(Holder(cgroup.dir()));
  ChildProcess runtime(Holder(cgroup.dir()));
  ASSERT_EQ(init.Reported(1), std::vector<int>{0});
  ASSERT_EQ(runtime.Reported(1), std::vector<int>{0});
  const std::string controller =
      cgroup.controllers().empty() ? "pids"
                                   : cgroup.controllers().substr(0, cgroup.controllers().find(','));
  EXPECT_EQ(OwnCgroupDir(init.pid(), runtime.pid(), controller, "cgroup.procs"), "");
}

TEST(MembershipTest, ACgroupHoldsItselfAndWhatIsBelowItOnly) {
  Membership m;
  m.kind = Membership::Kind::kCgroup;
  m.cgroup_path = "/machine/ctr";
  EXPECT_TRUE(m.CgroupHolds("/machine/ctr"));
  EXPECT_TRUE(m.CgroupHolds("/machine/ctr/sub"));
  EXPECT_FALSE(m.CgroupHolds("/machine/ctr2"));
  EXPECT_FALSE(m.CgroupHolds("/machine"));
  EXPECT_FALSE(m.CgroupHolds("/"));
  m.kind = Membership::Kind::kPidNamespace;
  EXPECT_FALSE(m.CgroupHolds("/machine/ctr"));
}

TEST(MembershipTest, WithoutTheRuntimesPidACgroupIsNotTrusted) {
  // Nothing to compare with: the init's cgroup could be the runtime's own.
  TestCgroup cgroup;
  UBC_REQUIRE(cgroup.ok(), cgroup.why());
  ChildProcess init(Holder(cgroup.dir()));
  ASSERT_EQ(init.Reported(1), std::vector<int>{0});
  EXPECT_EQ(DetermineMembership(init.pid(), 0).kind, Membership::Kind::kObserved);
  EXPECT_EQ(DetermineMembership(init.pid(), -1).kind, Membership::Kind::kObserved);
}

TEST(MembershipTest, TheRuntimeInTheInitsCgroupMeansNoCgroupOfItsOwn) {
  // The init and the runtime both in the test's cgroup: the init's cgroup is
  // not the container's alone.
  TestCgroup cgroup;
  UBC_REQUIRE(cgroup.ok(), cgroup.why());
  ChildProcess init(Holder(cgroup.dir()));
  ChildProcess runtime(Holder(cgroup.dir()));
  ASSERT_EQ(init.Reported(1), std::vector<int>{0});
  ASSERT_EQ(runtime.Reported(1), std::vector<int>{0});
  EXPECT_EQ(DetermineMembership(init.pid(), runtime.pid()).kind, Membership::Kind::kObserved);
}

TEST(MembershipTest, AnInitInAPidNamespaceOfItsOwnIsFoundByIt) {
  ChildProcess parent(PidNamespaceInit());
  const std::vector<int> init = parent.Reported(1);
  ASSERT_EQ(init.size(), 1u);
  UBC_REQUIRE(init[0] > 0, std::string("cannot make a pid namespace: ") + std::strerror(-init[0]));
  struct stat ns {
  }, own{};
  ASSERT_EQ(::stat(NsPath(init[0]).c_str(), &ns), 0);
  ASSERT_EQ(::stat("/proc/self/ns/pid", &own), 0);
  ASSERT_NE(ns.st_ino, own.st_ino);

  const Membership m = DetermineMembership(init[0], ::getpid());
  EXPECT_EQ(m.kind, Membership::Kind::kPidNamespace);
  EXPECT_EQ(m.pidns_dev, ns.st_dev);
  EXPECT_EQ(m.pidns_ino, ns.st_ino);
  EXPECT_EQ(m.Describe(), "pid namespace " + std::to_string(ns.st_ino));
  // Without the runtime's pid the namespace is still the init's own.
  EXPECT_EQ(DetermineMembership(init[0], -1).kind, Membership::Kind::kPidNamespace);
}

TEST(MembershipTest, ACgroupOfItsOwnWinsOverAPidNamespace) {
  TestCgroup cgroup;
  UBC_REQUIRE(cgroup.ok(), cgroup.why());
  ChildProcess parent(PidNamespaceInit(cgroup.dir(), /*init_alone=*/true));
  const std::vector<int> init = parent.Reported(1);
  ASSERT_EQ(init.size(), 1u);
  UBC_REQUIRE(init[0] > 0,
              std::string("cannot make a pid namespace in a cgroup: ") + std::strerror(-init[0]));
  const Membership m = DetermineMembership(init[0], ::getpid());
  EXPECT_EQ(m.kind, Membership::Kind::kCgroup);
  EXPECT_EQ(m.cgroup_dir, cgroup.dir());
}

TEST(MembershipTest, ACgroupHoldingProcessesOutsideTheInitsPidNamespaceIsNotItsOwn) {
  // crun without cgroups leaves the init in the cgroup of whoever started it;
  // with the runtime elsewhere that cgroup differs from the runtime's, but it
  // holds the host's processes (here the init's parent) too.
  TestCgroup cgroup;
  UBC_REQUIRE(cgroup.ok(), cgroup.why());
  ChildProcess parent(PidNamespaceInit(cgroup.dir()));
  const std::vector<int> init = parent.Reported(1);
  ASSERT_EQ(init.size(), 1u);
  UBC_REQUIRE(init[0] > 0,
              std::string("cannot make a pid namespace in a cgroup: ") + std::strerror(-init[0]));
  const Membership m = DetermineMembership(init[0], ::getpid());
  EXPECT_EQ(m.kind, Membership::Kind::kPidNamespace);
  EXPECT_EQ(m.cgroup_dir, "");
}

}  // namespace
}  // namespace ubc
