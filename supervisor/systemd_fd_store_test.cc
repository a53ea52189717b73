#include "supervisor/systemd_fd_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>

#include "supervisor/unix_socket.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

struct Sent {
  std::string message;
  std::vector<int> fds;
};

// Records what would go to systemd.
struct FakeSystemd {
  SystemdFdStore::Notify notify() {
    return [this](const std::string& message, const std::vector<int>& fds) {
      sent.push_back({message, fds});
      return Status::Ok();
    };
  }
  std::vector<Sent> sent;
};

UniqueFd Pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return UniqueFd();
  ::close(fds[1]);
  return UniqueFd(fds[0]);
}

ino_t Inode(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

TEST(SystemdFdStoreTest, PutSendsTheFdUnderItsNameAndKeepsTheMetadataBeside) {
  TempDir dir("systemd-fd-store");
  FakeSystemd systemd;
  SystemdFdStore store(dir.Path("meta").string(), {}, systemd.notify());
  UniqueFd fd = Pipe();
  ASSERT_TRUE(store.Put("0123abcd-7", {{"id", "c1"}}, fd.get()).ok());
  ASSERT_EQ(systemd.sent.size(), 1u);
  EXPECT_EQ(systemd.sent[0].message, "FDSTORE=1\nFDNAME=0123abcd-7");
  EXPECT_EQ(systemd.sent[0].fds, std::vector<int>{fd.get()});
  EXPECT_EQ(nlohmann::json::parse(ReadFileForTest(dir.Path("meta/0123abcd-7.json")))["id"], "c1");
  EXPECT_EQ(std::filesystem::status(dir.Path("meta")).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_all);
}

TEST(SystemdFdStoreTest, NamesSystemdWouldRefuseAreRefusedBeforeAnythingIsSent) {
  TempDir dir("systemd-fd-store");
  FakeSystemd systemd;
  SystemdFdStore store(dir.Path("meta").string(), {}, systemd.notify());
  UniqueFd fd = Pipe();
  for (const std::string& bad :
       {std::string(), std::string("a:b"), std::string("../x"), std::string(".hidden"),
        std::string(256, 'k'), std::string("a\nFDSTOREREMOVE=1")}) {
    EXPECT_FALSE(store.Put(bad, {{"id", "c1"}}, fd.get()).ok()) << bad;
  }
  EXPECT_TRUE(systemd.sent.empty());
  EXPECT_TRUE(SystemdFdStore::ValidKey("proc-view"));
  EXPECT_TRUE(SystemdFdStore::ValidKey(std::string(255, 'k')));
}

TEST(SystemdFdStoreTest, ListHandsOutCopiesOfWhatSystemdPassedWithTheirMetadata) {
  TempDir dir("systemd-fd-store");
  std::filesystem::create_directory(dir.Path("meta"));
  dir.Write("meta/k-1.json", R"({"id":"c1"})");
  dir.Write("meta/gone-2.json", R"({"id":"c2"})");  // systemd no longer holds its fd
  FakeSystemd systemd;
  UniqueFd kept = Pipe(), unknown = Pipe();
  const ino_t kept_inode = Inode(kept.get());
  std::vector<std::pair<std::string, UniqueFd>> received;
  received.emplace_back("k-1", std::move(kept));
  received.emplace_back("nometa-3", std::move(unknown));
  SystemdFdStore store(dir.Path("meta").string(), std::move(received), systemd.notify());
  // The fd without metadata is given back to systemd's care; the stale file goes.
  ASSERT_EQ(systemd.sent.size(), 1u);
  EXPECT_EQ(systemd.sent[0].message, "FDSTOREREMOVE=1\nFDNAME=nometa-3");
  EXPECT_FALSE(std::filesystem::exists(dir.Path("meta/gone-2.json")));
  EXPECT_TRUE(std::filesystem::exists(dir.Path("meta/k-1.json")));
  for (int round = 0; round < 2; ++round) {  // the proc view and the containers both list
    Result<std::vector<StoredFd>> listed = store.List();
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].key, "k-1");
    EXPECT_EQ((*listed)[0].meta["id"], "c1");
    EXPECT_EQ(Inode((*listed)[0].fd.get()), kept_inode);
    EXPECT_NE(::fcntl((*listed)[0].fd.get(), F_GETFD) & FD_CLOEXEC, 0);
  }
}

TEST(SystemdFdStoreTest, ReleasedForgetsTheFdItsMetadataAndTellsSystemd) {
  TempDir dir("systemd-fd-store");
  std::filesystem::create_directory(dir.Path("meta"));
  dir.Write("meta/k-1.json", R"({"id":"c1"})");
  FakeSystemd systemd;
  std::vector<std::pair<std::string, UniqueFd>> received;
  received.emplace_back("k-1", Pipe());
  SystemdFdStore store(dir.Path("meta").string(), std::move(received), systemd.notify());
  store.Released("k-1");
  EXPECT_FALSE(std::filesystem::exists(dir.Path("meta/k-1.json")));
  ASSERT_EQ(systemd.sent.size(), 1u);
  EXPECT_EQ(systemd.sent[0].message, "FDSTOREREMOVE=1\nFDNAME=k-1");
  EXPECT_TRUE(store.List()->empty());
}

// The real libsystemd call against a datagram socket standing in for systemd's
// notify socket: the message and a copy of the fd arrive as systemd gets them.
TEST(SystemdFdStoreTest, SdNotifyWithFdsSendsTheMessageAndTheFdToNotifySocket) {
  TempDir dir("systemd-fd-store");
  const std::string path = dir.Path("notify.sock").string();
  UniqueFd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(sock);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const char* saved = ::getenv("NOTIFY_SOCKET");
  const std::string saved_value = saved != nullptr ? saved : "";
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  UniqueFd fd = Pipe();
  Status sent = SdNotifyWithFds("FDSTORE=1\nFDNAME=k-1", {fd.get()});
  ::unsetenv("NOTIFY_SOCKET");
  Status unset = SdNotifyWithFds("FDSTORE=1\nFDNAME=k-1", {fd.get()});
  if (saved != nullptr) ::setenv("NOTIFY_SOCKET", saved_value.c_str(), 1);
  ASSERT_TRUE(sent.ok()) << sent.message();
  EXPECT_FALSE(unset.ok());
  char buf[256];
  std::vector<UniqueFd> fds;
  int flags = 0;
  const ssize_t n = ReceiveWithFds(sock.get(), buf, sizeof buf, MSG_DONTWAIT, &flags, &fds);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "FDSTORE=1\nFDNAME=k-1");
  ASSERT_EQ(fds.size(), 1u);
  EXPECT_EQ(Inode(fds[0].get()), Inode(fd.get()));
}

TEST(SystemdFdStoreTest, TheEnvironmentDecidesWhichCustody) {
  std::string why;
  ::unsetenv("UBCD_FD_CUSTODY");
  ::unsetenv("FDSTORE");
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(UseSystemdFdStore(&why));
  ::setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
  EXPECT_FALSE(UseSystemdFdStore(&why)) << "systemd 252 announces no store: not assumed";
  ::setenv("FDSTORE", "4096", 1);
  EXPECT_TRUE(UseSystemdFdStore(&why)) << why;
  ::setenv("UBCD_FD_CUSTODY", "store", 1);
  EXPECT_FALSE(UseSystemdFdStore(&why));
  ::unsetenv("FDSTORE");
  ::setenv("UBCD_FD_CUSTODY", "systemd", 1);
  EXPECT_TRUE(UseSystemdFdStore(&why));
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(UseSystemdFdStore(&why)) << "not under systemd: the store process";
  EXPECT_NE(why.find("NOTIFY_SOCKET"), std::string::npos) << why;
  ::setenv("UBCD_FD_CUSTODY", "bogus", 1);
  ::setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
  EXPECT_FALSE(UseSystemdFdStore(&why));
  ::unsetenv("UBCD_FD_CUSTODY");
  ::unsetenv("NOTIFY_SOCKET");
}

}  // namespace
}  // namespace ubc
