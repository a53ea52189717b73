#include "supervisor/unix_socket.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/unit/test_support.h"

namespace ubc {
namespace {

mode_t ModeOf(const std::filesystem::path& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path << ": " << std::strerror(errno);
  return st.st_mode;
}

int SocketType(int fd) {
  int type = -1;
  socklen_t len = sizeof type;
  EXPECT_EQ(::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len), 0);
  return type;
}

bool Listening(int fd) {
  int on = 0;
  socklen_t len = sizeof on;
  EXPECT_EQ(::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len), 0);
  return on != 0;
}

// Restores the process umask when a test that changed it ends.
class UmaskGuard {
 public:
  explicit UmaskGuard(mode_t mask) : old_(::umask(mask)) {}
  ~UmaskGuard() { ::umask(old_); }
  UmaskGuard(const UmaskGuard&) = delete;
  UmaskGuard& operator=(const UmaskGuard&) = delete;

 private:
  mode_t old_;
};

TEST(UnixSocketTest, BindCreatesASocketFile0600AndMissingParents0700) {
  TempDir dir("ubc-unix-socket-test");
  UmaskGuard permissive(0);  // the 0600 must not depend on the caller's umask
  const std::filesystem::path path = dir.Path("run/ubc/ubcd.sock");
  Result<UniqueFd> fd = BindUnixSocket(path.string(), SOCK_STREAM);
  ASSERT_TRUE(fd.ok()) << fd.status().message();
  EXPECT_TRUE(S_ISSOCK(ModeOf(path)));
  EXPECT_EQ(ModeOf(path) & 07777, 0600u);
  EXPECT_TRUE(S_ISDIR(ModeOf(dir.Path("run"))));
  EXPECT_EQ(ModeOf(dir.Path("run")) & 07777, 0700u);
  EXPECT_EQ(ModeOf(dir.Path("run/ubc")) & 07777, 0700u);
}

TEST(UnixSocketTest, BindRestoresTheCallersUmask) {
  TempDir dir("ubc-unix-socket-test");
  UmaskGuard mask(022);
  ASSERT_TRUE(BindUnixSocket(dir.Path("s.sock").string(), SOCK_STREAM).ok());
  const mode_t after = ::umask(022);
  EXPECT_EQ(after, 022u);
}

TEST(UnixSocketTest, BindGivesANonBlockingCloexecListeningSocketOfTheAskedType) {
  TempDir dir("ubc-unix-socket-test");
  for (int type : {SOCK_STREAM, SOCK_SEQPACKET}) {
    const std::string path = dir.Path("s" + std::to_string(type) + ".sock").string();
    Result<UniqueFd> fd = BindUnixSocket(path, type);
    ASSERT_TRUE(fd.ok()) << fd.status().message();
    EXPECT_EQ(SocketType(fd->get()), type);
    EXPECT_TRUE(Listening(fd->get()));
    EXPECT_NE(::fcntl(fd->get(), F_GETFL) & O_NONBLOCK, 0);
    EXPECT_NE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC, 0);
    // Non-blocking: with nobody connecting, accept returns at once.
    errno = 0;
    EXPECT_LT(::accept4(fd->get(), nullptr, nullptr, SOCK_CLOEXEC), 0);
    EXPECT_EQ(errno, EAGAIN);
  }
}

TEST(UnixSocketTest, ConnectGivesABlockingCloexecSocketThatReachesTheListener) {
  TempDir dir("ubc-unix-socket-test");
  const std::string path = dir.Path("s.sock").string();
  Result<UniqueFd> server = BindUnixSocket(path, SOCK_STREAM);
  ASSERT_TRUE(server.ok()) << server.status().message();
  Result<UniqueFd> client = ConnectUnixSocket(path, SOCK_STREAM);
  ASSERT_TRUE(client.ok()) << client.status().message();
  EXPECT_EQ(::fcntl(client->get(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(client->get(), F_GETFD) & FD_CLOEXEC, 0);
  UniqueFd accepted(::accept4(server->get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted) << std::strerror(errno);
  // The kernel vouches for who is at the other end (what the listener checks).
  ucred cred{};
  socklen_t len = sizeof cred;
  ASSERT_EQ(::getsockopt(accepted.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len), 0);
  EXPECT_EQ(cred.pid, ::getpid());
  EXPECT_EQ(cred.uid, ::geteuid());
  EXPECT_EQ(cred.gid, ::getegid());
  ASSERT_EQ(::send(client->get(), "ping", 4, MSG_NOSIGNAL), 4);
  char buf[8] = {};
  ASSERT_EQ(::recv(accepted.get(), buf, sizeof buf, 0), 4);
  EXPECT_STREQ(buf, "ping");
}

TEST(UnixSocketTest, ASeqpacketPairKeepsPacketBoundariesAndPassesFds) {
  TempDir dir("ubc-unix-socket-test");
  const std::string path = dir.Path("store.sock").string();
  Result<UniqueFd> server = BindUnixSocket(path, SOCK_SEQPACKET);
  ASSERT_TRUE(server.ok()) << server.status().message();
  Result<UniqueFd> client = ConnectUnixSocket(path, SOCK_SEQPACKET);
  ASSERT_TRUE(client.ok()) << client.status().message();
  UniqueFd accepted(::accept4(server->get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted);

  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  char text[] = "one";
  iovec iov{text, 3};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* h = CMSG_FIRSTHDR(&msg);
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_RIGHTS;
  h->cmsg_len = CMSG_LEN(sizeof(int));
  const int sent_fd = write_end.get();
  std::memcpy(CMSG_DATA(h), &sent_fd, sizeof sent_fd);
  ASSERT_EQ(::sendmsg(client->get(), &msg, MSG_NOSIGNAL), 3);
  ASSERT_EQ(::send(client->get(), "two", 3, MSG_NOSIGNAL), 3);

  char buf[16] = {};
  iovec riov{buf, sizeof buf};
  msghdr rmsg{};
  rmsg.msg_iov = &riov;
  rmsg.msg_iovlen = 1;
  alignas(cmsghdr) char rcontrol[CMSG_SPACE(sizeof(int))] = {};
  rmsg.msg_control = rcontrol;
  rmsg.msg_controllen = sizeof rcontrol;
  ASSERT_EQ(::recvmsg(accepted.get(), &rmsg, MSG_CMSG_CLOEXEC), 3);  // one packet, not "onetwo"
  EXPECT_EQ(std::string(buf, 3), "one");
  cmsghdr* rh = CMSG_FIRSTHDR(&rmsg);
  ASSERT_NE(rh, nullptr);
  ASSERT_EQ(rh->cmsg_type, SCM_RIGHTS);
  int received;
  std::memcpy(&received, CMSG_DATA(rh), sizeof received);
  UniqueFd passed(received);
  // The passed fd is the pipe's write end: what goes in comes out of ours.
  ASSERT_EQ(::write(passed.get(), "x", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(read_end.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
  ASSERT_EQ(::recv(accepted.get(), buf, sizeof buf, 0), 3);
  EXPECT_EQ(std::string(buf, 3), "two");
}

TEST(UnixSocketTest, BindRefusesAPathThatIsNotASocketAndLeavesItAlone) {
  TempDir dir("ubc-unix-socket-test");
  const std::filesystem::path path = dir.Write("ubcd.sock", "precious");
  Result<UniqueFd> fd = BindUnixSocket(path.string(), SOCK_STREAM);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.status().message(), path.string() + " exists and is not a socket");
  EXPECT_EQ(ReadFileForTest(path), "precious");
}

TEST(UnixSocketTest, BindRefusesAPathAnotherProcessListensOnAndKeepsThatOneWorking) {
  TempDir dir("ubc-unix-socket-test");
  const std::string path = dir.Path("ubcd.sock").string();
  Result<UniqueFd> first = BindUnixSocket(path, SOCK_STREAM);
  ASSERT_TRUE(first.ok()) << first.status().message();
  Result<UniqueFd> second = BindUnixSocket(path, SOCK_STREAM);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().message(), path + ": another process is already listening");
  // The probe connection aside, the first listener still owns the path.
  Result<UniqueFd> client = ConnectUnixSocket(path, SOCK_STREAM);
  ASSERT_TRUE(client.ok()) << client.status().message();
}

TEST(UnixSocketTest, BindReplacesAStaleSocketOfAPreviousRun) {
  TempDir dir("ubc-unix-socket-test");
  const std::string path = dir.Path("ubcd.sock").string();
  {
    Result<UniqueFd> old = BindUnixSocket(path, SOCK_STREAM);
    ASSERT_TRUE(old.ok());
  }  // closed: the file stays behind, nobody listens
  ASSERT_TRUE(std::filesystem::exists(path));
  EXPECT_FALSE(ConnectUnixSocket(path, SOCK_STREAM).ok());
  Result<UniqueFd> fresh = BindUnixSocket(path, SOCK_STREAM);
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  Result<UniqueFd> client = ConnectUnixSocket(path, SOCK_STREAM);
  ASSERT_TRUE(client.ok()) << client.status().message();
  UniqueFd accepted(::accept4(fresh->get(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_TRUE(accepted);
}

TEST(UnixSocketTest, PathsMustFitSunPath) {
  TempDir dir("ubc-unix-socket-test");
  const size_t max_bytes = sizeof(sockaddr_un{}.sun_path) - 1;  // room for the NUL
  const std::string base = dir.path().string() + "/";
  ASSERT_LT(base.size(), max_bytes);
  const std::string longest = base + std::string(max_bytes - base.size(), 'a');
  ASSERT_EQ(longest.size(), max_bytes);
  Result<UniqueFd> fits = BindUnixSocket(longest, SOCK_STREAM);
  EXPECT_TRUE(fits.ok()) << fits.status().message();
  EXPECT_TRUE(ConnectUnixSocket(longest, SOCK_STREAM).ok());

  const std::string too_long = longest + "b";
  Result<UniqueFd> bound = BindUnixSocket(too_long, SOCK_STREAM);
  ASSERT_FALSE(bound.ok());
  EXPECT_EQ(bound.status().message(), "socket path \"" + too_long + "\" is empty or too long");
  EXPECT_FALSE(std::filesystem::exists(too_long));
  Result<UniqueFd> connected = ConnectUnixSocket(too_long, SOCK_STREAM);
  ASSERT_FALSE(connected.ok());
  EXPECT_EQ(connected.status().message(), "socket path \"" + too_long + "\" is empty or too long");
  EXPECT_FALSE(BindUnixSocket("", SOCK_STREAM).ok());
  EXPECT_FALSE(ConnectUnixSocket("", SOCK_STREAM).ok());
}

TEST(UnixSocketTest, ConnectErrorsNameThePathAndTheReason) {
  TempDir dir("ubc-unix-socket-test");
  const std::string missing = dir.Path("missing.sock").string();
  Result<UniqueFd> fd = ConnectUnixSocket(missing, SOCK_STREAM);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.status().message(), "connect " + missing + ": " + std::strerror(ENOENT));

  const std::string path = dir.Path("stream.sock").string();
  Result<UniqueFd> stream = BindUnixSocket(path, SOCK_STREAM);
  ASSERT_TRUE(stream.ok());
  // A socket of the other type is no answer either.
  Result<UniqueFd> wrong_type = ConnectUnixSocket(path, SOCK_SEQPACKET);
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_EQ(wrong_type.status().message().rfind("connect " + path + ": ", 0), 0u)
      << wrong_type.status().message();
}

TEST(UnixSocketTest, BindFailsWhenAParentCannotBeCreated) {
  TempDir dir("ubc-unix-socket-test");
  dir.Write("file", "");
  const std::string path = dir.Path("file/sub/ubcd.sock").string();
  Result<UniqueFd> fd = BindUnixSocket(path, SOCK_STREAM);
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.status().message(),
            "creating " + dir.Path("file/sub").string() + ": " + std::strerror(ENOTDIR));
}

// ---------------------------------------------------------------- packets and frames

struct Pair {
  explicit Pair(int type) {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds), 0);
    a = UniqueFd(fds[0]);
    b = UniqueFd(fds[1]);
  }
  UniqueFd a, b;
};

TEST(UnixSocketTest, SendPacketPassesOneFdThatReceiveWithFdsTakesCloseOnExec) {
  Pair p(SOCK_SEQPACKET);
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  ASSERT_EQ(SendPacket(p.a.get(), "hello", 5, write_end.get(), 0), 0);
  ASSERT_EQ(SendPacket(p.a.get(), "no fd", 5, -1, 0), 0);
  char buf[16] = {};
  int flags = 0;
  std::vector<UniqueFd> fds;
  ASSERT_EQ(ReceiveWithFds(p.b.get(), buf, sizeof buf, 0, &flags, &fds), 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  ASSERT_EQ(fds.size(), 1u);
  EXPECT_EQ(::fcntl(fds[0].get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  ASSERT_EQ(::write(fds[0].get(), "x", 1), 1);  // the pipe's write end
  char c = 0;
  ASSERT_EQ(::read(read_end.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
  fds.clear();
  ASSERT_EQ(ReceiveWithFds(p.b.get(), buf, sizeof buf, 0, &flags, &fds), 5);
  EXPECT_TRUE(fds.empty());
  // A packet longer than the buffer is cut and says so.
  ASSERT_EQ(SendPacket(p.a.get(), "0123456789", 10, -1, 0), 0);
  ASSERT_EQ(ReceiveWithFds(p.b.get(), buf, 4, 0, &flags, &fds), 4);
  EXPECT_NE(flags & MSG_TRUNC, 0);
  p.a.reset();
  EXPECT_EQ(SendPacket(p.b.get(), "x", 1, -1, 0), EPIPE);  // no SIGPIPE
}

TEST(UnixSocketTest, ReceiveAllAndSendAllKeepTheirTotalTimeout) {
  Pair p(SOCK_STREAM);
  ASSERT_TRUE(SendAll(p.a.get(), "abc", 1000));
  char buf[8] = {};
  EXPECT_TRUE(ReceiveAll(p.b.get(), buf, 3, 1000));
  EXPECT_EQ(std::string(buf, 3), "abc");
  ASSERT_TRUE(SendAll(p.a.get(), "de", 1000));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(ReceiveAll(p.b.get(), buf, 3, 200));  // only 2 of 3 bytes come
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(150));
  EXPECT_LT(waited, std::chrono::milliseconds(5000));
  p.a.reset();
  EXPECT_FALSE(ReceiveAll(p.b.get(), buf, 1, 1000));  // EOF
  EXPECT_FALSE(SendAll(p.b.get(), "x", 1000));        // no SIGPIPE either
}

TEST(UnixSocketTest, ReceiveRestFrameTellsAnOversizedFrameFromAGonePeer) {
  Pair p(SOCK_STREAM);
  ASSERT_TRUE(SendAll(p.a.get(), std::string("\x03\x00\x00\x00xyz", 7), 1000));
  Result<std::string> got = ReceiveRestFrame(p.b.get(), 3, 1000);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(*got, "xyz");
  ASSERT_TRUE(SendAll(p.a.get(), std::string("\x04\x00\x00\x00", 4), 1000));
  got = ReceiveRestFrame(p.b.get(), 3, 1000);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().error_number(), 0) << got.status().message();
  ASSERT_TRUE(SendAll(p.a.get(), std::string("\x02\x00\x00\x00y", 5), 1000));
  p.a.reset();
  got = ReceiveRestFrame(p.b.get(), 3, 1000);  // half a payload, then EOF
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().error_number(), ECONNABORTED);
}

}  // namespace
}  // namespace ubc
