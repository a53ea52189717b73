#include "supervisor/status_server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "supervisor/unix_socket.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A StatusServer on a socket in its own temp dir, Run() in a thread; stopped
// and joined on destruction whatever the test did. The handler answers
// "reply:" + request (or `big_reply` for "big") and records every request.
class StatusServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.Path("status.sock").string();
    Result<std::unique_ptr<StatusServer>> s =
        StatusServer::Create(path_, [this](const std::string& request) {
          std::lock_guard<std::mutex> lock(mu_);
          requests_.push_back(request);
          return request == "big" ? big_reply_ : "reply:" + request;
        });
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(s).value();
    thread_ = std::thread([this] { server_->Run(); });
  }
  void TearDown() override { StopServer(); }
  void StopServer() {
    if (thread_.joinable()) {
      server_->Stop();
      thread_.join();
    }
  }
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  UniqueFd Connect() {
    Result<UniqueFd> fd = ConnectUnixSocket(path_, SOCK_STREAM);
    EXPECT_TRUE(fd.ok()) << fd.status().message();
    return fd.ok() ? std::move(fd).value() : UniqueFd();
  }
  // Everything the server sends until it closes (at most `timeout`).
  static std::string ReadAll(int fd, milliseconds timeout = milliseconds(10000)) {
    std::string out;
    const auto deadline = Clock::now() + timeout;
    char buf[16384];
    while (Clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(1, left.count()))) != 1) continue;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // How long a QueryStatus("text") takes, and that it gets the right answer.
  milliseconds TimedQuery() {
    const auto start = Clock::now();
    Result<std::string> reply = QueryStatus(path_, "text");
    const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    EXPECT_TRUE(reply.ok()) << reply.status().message();
    if (reply.ok()) {
      EXPECT_EQ(*reply, "reply:text");
    }
    return took;
  }

  TempDir dir_{"ubc-status-server-test"};
  std::string path_;
  std::string big_reply_;  // the answer to "big" (guarded by mu_)
  std::unique_ptr<StatusServer> server_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> requests_;
};

TEST_F(StatusServerTest, AnswersTheRequestLineWithTheHandlersReply) {
  Result<std::string> text = QueryStatus(path_, "text");
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_EQ(*text, "reply:text");
  Result<std::string> json = QueryStatus(path_, "json");
  ASSERT_TRUE(json.ok()) << json.status().message();
  EXPECT_EQ(*json, "reply:json");
  EXPECT_EQ(requests(), (std::vector<std::string>{"text", "json"}));
}

TEST_F(StatusServerTest, TheSocketIsReadableByItsOwnerOnly) {
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(StatusServerTest, OnlyTheFirstLineIsTheRequest) {
  UniqueFd c = Connect();
  const std::string sent = "json\nsecond line\n";
  ASSERT_EQ(::send(c.get(), sent.data(), sent.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(sent.size()));
  EXPECT_EQ(ReadAll(c.get()), "reply:json");
  EXPECT_EQ(requests(), (std::vector<std::string>{"json"}));
}

TEST_F(StatusServerTest, AnEndlessRequestIsCutAtOneKibibyte) {
  UniqueFd c = Connect();
  const std::string sent(5000, 'x');  // no newline at all
  ASSERT_EQ(::send(c.get(), sent.data(), sent.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(sent.size()));
  EXPECT_EQ(ReadAll(c.get()), "reply:" + std::string(1024, 'x'));
  ASSERT_EQ(requests().size(), 1u);
  EXPECT_EQ(requests()[0].size(), 1024u);
  EXPECT_LT(TimedQuery(), milliseconds(500));  // and the next client is served at once
}

TEST_F(StatusServerTest, AClientThatSendsNothingButClosesGetsTheEmptyRequestsReplyAtOnce) {
  UniqueFd c = Connect();
  const auto start = Clock::now();
  ASSERT_EQ(::shutdown(c.get(), SHUT_WR), 0);
  EXPECT_EQ(ReadAll(c.get()), "reply:");
  EXPECT_LT(Clock::now() - start, milliseconds(500));  // EOF ends it, not the timeout
  EXPECT_EQ(requests(), (std::vector<std::string>{""}));
}

TEST_F(StatusServerTest, ManyClientsInARowAndAtOnceAreEachAnsweredCorrectly) {
  for (int i = 0; i < 50; ++i) {
    Result<std::string> r = QueryStatus(path_, "q" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(*r, "reply:q" + std::to_string(i));
  }
  std::atomic<int> wrong{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const std::string request = "t" + std::to_string(t) + "-" + std::to_string(i);
        Result<std::string> r = QueryStatus(path_, request);
        if (!r.ok() || *r != "reply:" + request) ++wrong;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(requests().size(), 50u + 80u);
}

TEST_F(StatusServerTest, ASilentClientDelaysTheNextByAtMostTheOneSecondReceiveTimeout) {
  UniqueFd silent = Connect();
  std::this_thread::sleep_for(milliseconds(50));  // the server is now waiting for it
  const milliseconds took = TimedQuery();
  EXPECT_LT(took, milliseconds(1800));
  EXPECT_GT(took, milliseconds(500));  // it did wait for the silent one first
  // The silent client was answered as an empty request when its time was up.
  EXPECT_EQ(ReadAll(silent.get(), milliseconds(100)), "reply:");
  EXPECT_EQ(requests(), (std::vector<std::string>{"", "text"}));
}

TEST_F(StatusServerTest, AClientThatNeverReadsItsReplyDelaysTheNextOnlyBriefly) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    big_reply_ = std::string(16 * 1024 * 1024, 'b');  // far more than a socket buffers
  }
  UniqueFd stuck = Connect();
  ASSERT_EQ(::send(stuck.get(), "big\n", 4, MSG_NOSIGNAL), 4);
  std::this_thread::sleep_for(milliseconds(50));  // the server is now blocked sending
  const milliseconds took = TimedQuery();
  // The send timeout (1 s) gives up on it; each of the server's send() calls
  // may wait that long once (a partial one, then the one that fails).
  EXPECT_LT(took, milliseconds(3500));
}

// The header promises that a silent client delays others by at most the
// receive timeout; but the timeout is per recv() call, so a client dripping
// one byte every 300 ms holds the server for up to 1024 such reads (about five
// minutes). Disabled until status_server.cc bounds the whole request by one
// deadline; run it with --gtest_also_run_disabled_tests (it fails in ~3 s).
TEST_F(StatusServerTest, DISABLED_ADripFeedingClientDelaysTheNextByAtMostTheReceiveTimeout) {
  UniqueFd drip = Connect();
  std::atomic<bool> stop{false};
  std::thread dripper([&] {
    while (!stop) {
      (void)::send(drip.get(), "x", 1, MSG_NOSIGNAL);
      std::this_thread::sleep_for(milliseconds(300));
    }
  });
  std::this_thread::sleep_for(milliseconds(50));
  // A client with a deadline of its own, so that the test ends either way.
  UniqueFd next = Connect();
  ASSERT_EQ(::send(next.get(), "text\n", 5, MSG_NOSIGNAL), 5);
  const std::string reply = ReadAll(next.get(), milliseconds(3000));
  stop = true;
  dripper.join();
  EXPECT_EQ(reply, "reply:text") << "the second client was not served within 3 s";
}

TEST_F(StatusServerTest, StopEndsRunWhileItWaitsForAClientAndTheSocketAnswersNoMore) {
  std::this_thread::sleep_for(milliseconds(20));  // Run() is blocked in accept()
  const auto start = Clock::now();
  StopServer();
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
  Result<std::string> after = QueryStatus(path_, "text");
  EXPECT_FALSE(after.ok());
}

TEST(StatusServerStopTest, StopBeforeRunMakesRunReturnAtOnce) {
  TempDir dir("ubc-status-server-test");
  Result<std::unique_ptr<StatusServer>> s = StatusServer::Create(
      dir.Path("status.sock").string(), [](const std::string&) { return std::string("x"); });
  ASSERT_TRUE(s.ok()) << s.status().message();
  (*s)->Stop();
  const auto start = Clock::now();
  (*s)->Run();
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
}

TEST(StatusServerCreateTest, RefusesASocketAnotherServerListensOn) {
  TempDir dir("ubc-status-server-test");
  const std::string path = dir.Path("status.sock").string();
  auto handler = [](const std::string&) { return std::string("x"); };
  Result<std::unique_ptr<StatusServer>> first = StatusServer::Create(path, handler);
  ASSERT_TRUE(first.ok()) << first.status().message();
  Result<std::unique_ptr<StatusServer>> second = StatusServer::Create(path, handler);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().message(), path + ": another process is already listening");
}

TEST(QueryStatusTest, WithoutAServerTheErrorSaysUbcdIsNotReachable) {
  TempDir dir("ubc-status-server-test");
  const std::string path = dir.Path("status.sock").string();
  Result<std::string> r = QueryStatus(path, "text");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "cannot reach ubcd: connect " + path + ": " +
                                      std::strerror(ENOENT) + " (is ubcd running?)");
}

TEST_F(StatusServerTest, KeepsAcceptingAfterTheProcessRanOutOfFds) {
  // A flood elsewhere in ubcd (idle REST connections) once used up its fds;
  // accept() failed with EMFILE and the status thread ended for good.
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  int highest = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    highest = std::max(highest, std::stoi(entry.path().filename().string()));
  }
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(highest + 16);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<UniqueFd> fillers;
  for (;;) {
    UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!fd) break;
    fillers.push_back(std::move(fd));
  }
  ASSERT_EQ(errno, EMFILE);
  fillers.pop_back();  // room for the client's own socket, none for the server's accept
  UniqueFd client = Connect();
  ASSERT_TRUE(client);
  ASSERT_EQ(::send(client.get(), "text\n", 5, MSG_NOSIGNAL), 5);
  std::this_thread::sleep_for(milliseconds(300));  // accept fails meanwhile
  fillers.clear();
  ::setrlimit(RLIMIT_NOFILE, &old);
  EXPECT_EQ(ReadAll(client.get(), milliseconds(5000)), "reply:text");
  (void)TimedQuery();  // and the next client gets its reply too
}

}  // namespace
}  // namespace ubc
