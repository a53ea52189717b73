#include "supervisor/privileges.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>

#include "core/unique_fd.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

// Not root, and no one's in particular.
constexpr uid_t kNobody = 65534;

// ---------------------------------------------------------------- a child's report

// Runs `body` in a forked child (capabilities are changed there, never in
// the test process) and returns what it wrote; "key=value" lines by
// convention. The child is reaped before this returns (killed after 10 s).
std::string InChild(const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return "";
  }
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return "";
  }
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

std::map<std::string, std::string> Parse(const std::string& report) {
  std::map<std::string, std::string> out;
  std::istringstream in(report);
  for (std::string line; std::getline(in, line);) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

// The capability sets and no_new_privs of the calling process (in a child),
// as "CapEff=0000000000080000" lines.
std::string OwnCredentials() {
  std::ifstream in("/proc/self/status");
  std::string out;
  for (std::string line; std::getline(in, line);) {
    for (const char* key : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs"}) {
      const std::string prefix = std::string(key) + ":\t";
      if (line.rfind(prefix, 0) == 0)
        out += std::string(key) + "=" + line.substr(prefix.size()) + "\n";
    }
  }
  return out;
}

uint64_t Hex(const std::string& text) { return std::stoull(text, nullptr, 16); }

// In a child that is root: forks a process running as kNobody, drops
// privileges as told, and says whether it can still read that process's
// /proc/PID/syscall (ptrace access) and chown a file to kNobody (CAP_CHOWN).
std::string DropAndProbe(bool keep_ptrace, const std::string& file) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return "setup=pipe\n";
  UniqueFd ready_read(fds[0]), ready_write(fds[1]);
  if (::pipe2(fds, O_CLOEXEC) != 0) return "setup=pipe\n";
  UniqueFd hold_read(fds[0]), hold_write(fds[1]);
  const pid_t other = ::fork();
  if (other == 0) {
    hold_write.reset();  // so that it reads end-of-file once released
    if (::setresgid(kNobody, kNobody, kNobody) != 0 || ::setresuid(kNobody, kNobody, kNobody) != 0)
      ::_exit(1);
    [[maybe_unused]] ssize_t w = ::write(ready_write.get(), "r", 1);
    char c;
    while (::read(hold_read.get(), &c, 1) < 0 && errno == EINTR) {
    }
    ::_exit(0);
  }
  ready_write.reset();
  hold_read.reset();
  char c;
  const bool started = other > 0 && ::read(ready_read.get(), &c, 1) == 1;

  const Status s = DropPrivileges(keep_ptrace);
  std::string out = "status=" + (s.ok() ? std::string("ok") : s.message()) + "\n";
  out += OwnCredentials();
  if (started) {
    const std::string path = "/proc/" + std::to_string(other) + "/syscall";
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    char buf[256];
    const ssize_t n = fd ? ::read(fd.get(), buf, sizeof buf) : -1;
    out += std::string("other_syscall=") + (n > 0 ? "readable" : std::strerror(errno)) + "\n";
  } else {
    out += "other_syscall=no such process\n";
  }
  out += std::string("chown=") +
         (::chown(file.c_str(), kNobody, kNobody) == 0 ? "done" : std::strerror(errno)) + "\n";
  hold_write.reset();
  if (other > 0) ::waitpid(other, nullptr, 0);
  return out;
}

// ---------------------------------------------------------------- DropPrivileges

TEST(PrivilegesTest, KeepingPtraceLeavesOnlyCapSysPtraceAndCapKillAndNoNewPrivs) {
  UBC_REQUIRE_ROOT();
  TempDir dir("ubc-privileges-test");
  const std::string file = dir.Write("file", "x").string();
  const auto report = Parse(InChild([&] { return DropAndProbe(true, file); }));
  ASSERT_EQ(report.count("status"), 1u);
  EXPECT_EQ(report.at("status"), "ok");
  const uint64_t ptrace = uint64_t{1} << CAP_SYS_PTRACE | uint64_t{1} << CAP_KILL;
  EXPECT_EQ(Hex(report.at("CapEff")), ptrace);
  EXPECT_EQ(Hex(report.at("CapPrm")), ptrace);
  EXPECT_EQ(Hex(report.at("CapInh")), 0u);
  EXPECT_EQ(Hex(report.at("CapAmb")), 0u);
  // Whatever the kernel knows of, nothing but these two can come back.
  EXPECT_EQ(Hex(report.at("CapBnd")), ptrace);
  EXPECT_EQ(report.at("NoNewPrivs"), "1");
  // What ubcd needs it for: another user's process's syscall file.
  EXPECT_EQ(report.at("other_syscall"), "readable");
  EXPECT_EQ(report.at("chown"), std::strerror(EPERM));
}

TEST(PrivilegesTest, DroppingEverythingLeavesNoCapability) {
  UBC_REQUIRE_ROOT();
  TempDir dir("ubc-privileges-test");
  const std::string file = dir.Write("file", "x").string();
  const auto report = Parse(InChild([&] { return DropAndProbe(false, file); }));
  ASSERT_EQ(report.count("status"), 1u);
  EXPECT_EQ(report.at("status"), "ok");
  for (const char* set : {"CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd"}) {
    EXPECT_EQ(Hex(report.at(set)), 0u) << set;
  }
  EXPECT_EQ(report.at("NoNewPrivs"), "1");
  EXPECT_NE(report.at("other_syscall"), "readable");
  EXPECT_EQ(report.at("chown"), std::strerror(EPERM));
}

TEST(PrivilegesTest, FailsWhenTheBoundingSetCannotBeCleared) {
  // Without CAP_SETPCAP (as any user without it): an error, and no_new_privs
  // is not set on the way.
  const auto report = Parse(InChild([] {
    cap_t caps = cap_get_proc();
    const cap_value_t setpcap[] = {CAP_SETPCAP};
    if (caps == nullptr || cap_set_flag(caps, CAP_EFFECTIVE, 1, setpcap, CAP_CLEAR) != 0 ||
        cap_set_proc(caps) != 0) {
      return std::string("setup=cannot clear CAP_SETPCAP\n");
    }
    cap_free(caps);
    const Status s = DropPrivileges(true);
    return "status=" + (s.ok() ? std::string("ok") : s.message()) + "\n" + OwnCredentials();
  }));
  ASSERT_EQ(report.count("setup"), 0u) << report.at("setup");
  ASSERT_EQ(report.count("status"), 1u);
  EXPECT_EQ(report.at("status"),
            std::string("dropping capability from the bounding set: ") + std::strerror(EPERM));
  EXPECT_EQ(report.at("NoNewPrivs"), "0");
}

// ---------------------------------------------------------------- trusted files

// dir/conf/ubcd.json, made 0755 and 0644.
struct ConfigFile {
  explicit ConfigFile(const TempDir& dir) : conf(dir.Path("conf").string()) {
    EXPECT_EQ(::mkdir(conf.c_str(), 0755), 0);
    file = conf + "/ubcd.json";
    WriteFileForTest(file, "{}");
    EXPECT_EQ(::chmod(file.c_str(), 0644), 0);
  }
  std::string conf;
  std::string file;
};

std::string Writable(const std::string& path, const char* mode) {
  return path + " is writable by group or others (mode " + mode + "); refusing to trust it";
}

TEST(PrivilegesTest, ARootOwnedFileInARootOwnedDirectoryIsTrusted) {
  UBC_REQUIRE_ROOT();
  TempDir dir("ubc-privileges-test");
  ConfigFile c(dir);
  EXPECT_TRUE(CheckOnlyRootCanWrite(c.file).ok()) << CheckOnlyRootCanWrite(c.file).message();
  // Not writable by anyone at all is fine too.
  ASSERT_EQ(::chmod(c.file.c_str(), 0400), 0);
  ASSERT_EQ(::chmod(c.conf.c_str(), 0500), 0);
  EXPECT_TRUE(CheckOnlyRootCanWrite(c.file).ok());
  ASSERT_EQ(::chmod(c.conf.c_str(), 0755), 0);
}

TEST(PrivilegesTest, AFileNotOwnedByRootIsRefused) {
  TempDir dir("ubc-privileges-test");
  ConfigFile c(dir);
  // As root, given away; as anyone else, already not root's.
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown(c.file.c_str(), kNobody, kNobody), 0);
  }
  const Status s = CheckOnlyRootCanWrite(c.file);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), c.file + " is not owned by root");
}

TEST(PrivilegesTest, AFileOthersCanWriteIsRefusedEvenWhenSticky) {
  UBC_REQUIRE_ROOT();
  TempDir dir("ubc-privileges-test");
  ConfigFile c(dir);
  const struct {
    mode_t mode;
    const char* shown;
  } cases[] = {{0664, "0664"}, {0646, "0646"}, {0620, "0620"}, {01666, "1666"}};
  for (const auto& k : cases) {
    ASSERT_EQ(::chmod(c.file.c_str(), k.mode), 0);
    const Status s = CheckOnlyRootCanWrite(c.file);
    ASSERT_FALSE(s.ok()) << k.shown;
    EXPECT_EQ(s.message(), Writable(c.file, k.shown));
  }
}

TEST(PrivilegesTest, ADirectoryOthersCanWriteIsRefusedUnlessSticky) {
  UBC_REQUIRE_ROOT();
  TempDir dir("ubc-privileges-test");
  ConfigFile c(dir);
  ASSERT_EQ(::chmod(c.conf.c_str(), 0775), 0);
  Status s = CheckOnlyRootCanWrite(c.file);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), Writable(c.conf, "0775"));
  // Like /tmp: others may add files but not replace root's.
  ASSERT_EQ(::chmod(c.conf.c_str(), 01777), 0);
  s = CheckOnlyRootCanWrite(c.file);
  EXPECT_TRUE(s.ok()) << s.message();
  // The directory itself, checked as the thing trusted, may not be sticky and writable.
  s = CheckOnlyRootCanWrite(c.conf);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), Writable(c.conf, "1777"));

  ASSERT_EQ(::chmod(c.conf.c_str(), 0755), 0);
  ASSERT_EQ(::chown(c.conf.c_str(), kNobody, 0), 0);
  s = CheckOnlyRootCanWrite(c.file);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), c.conf + " is not owned by root");
}

TEST(PrivilegesTest, AMissingFileIsRefusedNamingIt) {
  TempDir dir("ubc-privileges-test");
  const std::string path = dir.Path("missing.json").string();
  const Status s = CheckOnlyRootCanWrite(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), path + ": " + std::strerror(ENOENT));
}

// ---------------------------------------------------------------- socket directories

TEST(PrivilegesTest, ASocketDirectoryThatDoesNotExistYetIsFine) {
  // ubcd makes it itself, 0700.
  TempDir dir("ubc-privileges-test");
  const Status s = CheckSocketDirectory(dir.Path("run/ubcd.sock").string());
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(PrivilegesTest, ASocketDirectoryOthersCouldReplaceItInIsRefused) {
  UBC_REQUIRE_ROOT();
  TempDir dir("ubc-privileges-test");
  const std::string run = dir.Path("run").string();
  const std::string socket = run + "/ubcd.sock";
  ASSERT_EQ(::mkdir(run.c_str(), 0700), 0);
  Status s = CheckSocketDirectory(socket);
  EXPECT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(::chmod(run.c_str(), 0777), 0);
  s = CheckSocketDirectory(socket);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), Writable(run, "0777"));
  ASSERT_EQ(::chmod(run.c_str(), 01777), 0);
  s = CheckSocketDirectory(socket);
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(PrivilegesTest, ASocketDirectoryNotOwnedByRootIsRefused) {
  TempDir dir("ubc-privileges-test");
  const std::string run = dir.Path("run").string();
  ASSERT_EQ(::mkdir(run.c_str(), 0700), 0);
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown(run.c_str(), kNobody, kNobody), 0);
  }
  const Status s = CheckSocketDirectory(run + "/ubcd.sock");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), run + " is not owned by root");
}

}  // namespace
}  // namespace ubc
