#include "supervisor/rest_keeper.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "supervisor/unix_socket.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

// The next report on the keeper's link within 10 s.
std::optional<RestKeeperReport> NextReport(int link, std::vector<UniqueFd>* fds) {
  pollfd p{link, POLLIN, 0};
  if (::poll(&p, 1, 10000) != 1) return std::nullopt;
  RestKeeperReport r;
  int flags = 0;
  if (ReceiveWithFds(link, &r, sizeof r, 0, &flags, fds) != static_cast<ssize_t>(sizeof r)) {
    return std::nullopt;
  }
  return r;
}

std::string ReadToEnd(int fd) {
  std::string out;
  char buf[256];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) break;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

TEST(ResolveRestWorkerUserTest, AMissingUserFallsBackToNobody) {
  bool fallback = false;
  const RestWorkerUser u = ResolveRestWorkerUser("no-such-user-ubc-test", &fallback);
  EXPECT_TRUE(fallback);
  EXPECT_NE(u.uid, 0u);
  if (const passwd* pw = ::getpwnam("nobody")) {
    EXPECT_EQ(u.uid, pw->pw_uid);
    EXPECT_EQ(u.name, "nobody");
  }
  const RestWorkerUser root = ResolveRestWorkerUser("root", &fallback);
  EXPECT_NE(root.uid, 0u) << "uid 0 is never the HTTP process's user";
  EXPECT_TRUE(fallback);
}

// A real keeper starting /bin/sh as its "worker": the script reports its
// uid, gid, groups and capabilities on fd 3 (the socket whose other end
// ubcd receives) and exits; the keeper reports the exit and starts it again.
TEST(RestKeeperTest, StartsTheWorkerAsTheUserWithFd3AndRestartsIt) {
  UBC_REQUIRE(::geteuid() == 0, "the keeper changes uid: needs root");
  bool fallback = false;
  const RestWorkerUser user = ResolveRestWorkerUser("nobody", &fallback);
  Result<std::unique_ptr<RestKeeper>> keeper = RestKeeper::Start(
      user,
      {"-c",
       "echo \"$(id -u) $(id -g) [$(id -G)] $(grep CapEff /proc/self/status | cut -f2)\" >&3; "
       "ls /proc/self/fd | wc -l >&3; exit 7"},
      "/bin/sh");
  ASSERT_TRUE(keeper.ok()) << keeper.status().message();
  for (int round = 0; round < 2; ++round) {
    std::vector<UniqueFd> fds;
    std::optional<RestKeeperReport> started = NextReport((*keeper)->link(), &fds);
    ASSERT_TRUE(started.has_value());
    ASSERT_EQ(started->kind, RestKeeperReport::kStarted);
    ASSERT_EQ(fds.size(), 1u);
    EXPECT_EQ(started->uid, user.uid);
    const std::string said = ReadToEnd(fds[0].get());
    const std::string ids = std::to_string(user.uid) + " " + std::to_string(user.gid) + " [" +
                            std::to_string(user.gid) + "] 0000000000000000\n";
    // 0, 1, 2, 3 and the fd ls itself opens.
    EXPECT_EQ(said, ids + "5\n");
    std::vector<UniqueFd> none;
    std::optional<RestKeeperReport> exited = NextReport((*keeper)->link(), &none);
    ASSERT_TRUE(exited.has_value());
    EXPECT_EQ(exited->kind, RestKeeperReport::kExited);
    EXPECT_EQ(exited->pid, started->pid);
    EXPECT_TRUE(WIFEXITED(exited->wait_status) && WEXITSTATUS(exited->wait_status) == 7);
    EXPECT_EQ(exited->next_start_ms, static_cast<uint32_t>(kFirstRestartMs << round));
  }
}

TEST(RestKeeperTest, DestroyingItEndsTheKeeperAndItsWorker) {
  UBC_REQUIRE(::geteuid() == 0, "the keeper changes uid: needs root");
  bool fallback = false;
  Result<std::unique_ptr<RestKeeper>> keeper =
      RestKeeper::Start(ResolveRestWorkerUser("nobody", &fallback),
                        {"-c", "echo $$ >&3; exec sleep 1000"}, "/bin/sh");
  ASSERT_TRUE(keeper.ok()) << keeper.status().message();
  std::vector<UniqueFd> fds;
  std::optional<RestKeeperReport> started = NextReport((*keeper)->link(), &fds);
  ASSERT_TRUE(started.has_value());
  ASSERT_EQ(fds.size(), 1u);
  const pid_t worker = started->pid;
  const pid_t keeper_pid = (*keeper)->pid();
  keeper->reset();
  EXPECT_NE(::kill(keeper_pid, 0), 0) << "the keeper is reaped";
  // The worker's death signal fires when the keeper dies.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = ::kill(worker, 0) != 0;
    if (!gone) ::usleep(50000);
  }
  EXPECT_TRUE(gone) << "worker " << worker << " outlived its keeper";
}

}  // namespace
}  // namespace ubc
