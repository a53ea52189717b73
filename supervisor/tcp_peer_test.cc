#include "supervisor/tcp_peer.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/test_support.h"

namespace ubc {
namespace {

// A loopback listener on a free port.
struct Listener {
  Listener() {
    fd = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd.get(), 8), 0);
    EXPECT_EQ(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
    addr = a;
  }
  UniqueFd Accept() { return UniqueFd(::accept4(fd.get(), nullptr, nullptr, SOCK_CLOEXEC)); }
  UniqueFd fd;
  sockaddr_in addr{};
};

UniqueFd Connect(const sockaddr_in& to) {
  UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(c.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) return {};
  return c;
}

TEST(TcpPeerLookupTest, ALocalPeerIsTheUidOwningItsSocket) {
  Listener l;
  UniqueFd client = Connect(l.addr);
  ASSERT_TRUE(client);
  UniqueFd server = l.Accept();
  ASSERT_TRUE(server);
  TcpPeerLookup lookup;
  TcpPeer peer = lookup.Lookup(server.get());
  ASSERT_TRUE(peer.uid.has_value()) << "address " << peer.address;
  EXPECT_EQ(*peer.uid, ::geteuid());
  EXPECT_EQ(peer.address, "127.0.0.1");
  EXPECT_EQ(peer.Key(), "uid " + std::to_string(::geteuid()));
}

TEST(TcpPeerLookupTest, AnotherUsersSocketIsThatUser) {
  UBC_REQUIRE(::geteuid() == 0, "connecting as another user needs root");
  Listener l;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
      ::_exit(1);
    }
    UniqueFd c = Connect(l.addr);
    char byte = c ? 1 : 0;
    (void)!::write(ready[1], &byte, 1);
    ::pause();
    ::_exit(0);
  }
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  UniqueFd server = l.Accept();
  TcpPeerLookup lookup;
  TcpPeer peer = lookup.Lookup(server.get());
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  ASSERT_EQ(byte, 1);
  ASSERT_TRUE(peer.uid.has_value());
  EXPECT_EQ(*peer.uid, 65534u);
}

TEST(TcpPeerLookupTest, ASocketThatIsNotTcpHasNoUid) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  TcpPeerLookup lookup;
  TcpPeer peer = lookup.Lookup(pair[0]);
  EXPECT_FALSE(peer.uid.has_value());
  EXPECT_EQ(peer.Key(), "address unknown");
  ::close(pair[0]);
  ::close(pair[1]);
}

}  // namespace
}  // namespace ubc
