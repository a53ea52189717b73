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
#include <optional>
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
  // Everything the server sends until it closes the connection (EOF or
  // ECONNRESET), or nullopt if it does not close it within `timeout`.
  static std::optional<std::string> UntilClosed(int fd, milliseconds timeout) {
    std::string out;
    const auto deadline = Clock::now() + timeout;
    char buf[16384];
    for (;;) {
      const auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) != 1) continue;
      ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0 || errno == ECONNRESET) return out;
      if (errno != EINTR && errno != EAGAIN) {
        ADD_FAILURE() << "recv: " << std::strerror(errno);
        return std::nullopt;
      }
    }
  }
  // A query like QueryStatus's but bounded, so that a test fails rather than
  // hangs when the server does not answer: the reply, or nullopt when the
  // connection is not closed within `timeout`.
  std::optional<std::string> QueryWithin(const std::string& request, milliseconds timeout) {
    UniqueFd c = Connect();
    const std::string line = request + "\n";
    if (::send(c.get(), line.data(), line.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(line.size())) {
      ADD_FAILURE() << "send: " << std::strerror(errno);
      return std::nullopt;
    }
    return UntilClosed(c.get(), timeout);
  }
  // Whether the server still holds a connection it has sent nothing on.
  static bool StillOpen(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }
  static constexpr milliseconds kDeadline{StatusServer::kClientDeadlineMs};
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

// The old server served clients one at a time with a 1 s receive timeout, so
// a silent client delayed the next by that second, and was then answered as
// an empty request. Now it delays no one and is closed, unanswered, at its
// deadline.
TEST_F(StatusServerTest, ASilentClientDelaysNoOneAndIsClosedUnansweredAtItsDeadline) {
  const auto start = Clock::now();
  UniqueFd silent = Connect();
  std::this_thread::sleep_for(milliseconds(50));  // the server has accepted it
  EXPECT_LT(TimedQuery(), milliseconds(500));
  EXPECT_TRUE(StillOpen(silent.get()));
  const std::optional<std::string> got = UntilClosed(silent.get(), kDeadline + milliseconds(1500));
  ASSERT_TRUE(got.has_value()) << "the silent client was not closed by its deadline";
  EXPECT_EQ(*got, "");
  EXPECT_GE(Clock::now() - start, kDeadline);  // it had its whole time
  EXPECT_EQ(requests(), (std::vector<std::string>{"text"}));
}

TEST_F(StatusServerTest, AHalfCloseBeforeTheNewlineIsServedWithWhatWasSent) {
  UniqueFd c = Connect();
  ASSERT_EQ(::send(c.get(), "js", 2, MSG_NOSIGNAL), 2);
  std::this_thread::sleep_for(milliseconds(20));  // the server has read the "js"
  ASSERT_EQ(::shutdown(c.get(), SHUT_WR), 0);
  EXPECT_EQ(UntilClosed(c.get(), milliseconds(1000)), std::optional<std::string>("reply:js"));
  EXPECT_EQ(requests(), (std::vector<std::string>{"js"}));
}

// The old server took up to 1 s per silent client: 100 s for this query.
TEST_F(StatusServerTest, AHundredClientsThatSendNothingAndNeverReadDoNotDelayARealQuery) {
  const auto start = Clock::now();
  std::vector<UniqueFd> silent;
  for (int i = 0; i < 100; ++i) silent.push_back(Connect());
  std::this_thread::sleep_for(milliseconds(50));  // the server has accepted them
  EXPECT_LT(TimedQuery(), milliseconds(1500));
  EXPECT_EQ(requests(), (std::vector<std::string>{"text"}));
  if (Clock::now() - start < kDeadline - milliseconds(500)) {
    size_t open = 0;
    for (const UniqueFd& fd : silent) open += StillOpen(fd.get()) ? 1 : 0;
    EXPECT_EQ(open, silent.size());  // held all at once (below the cap), none dropped
  }
}

// The old receive timeout was per recv() call: a client dripping one byte
// every 300 ms held the server for 1024 of them (about five minutes).
TEST_F(StatusServerTest, ADripFeedingClientIsClosedAtItsDeadlineWhileOthersAreServed) {
  const auto start = Clock::now();
  UniqueFd drip = Connect();
  std::atomic<bool> stop{false};
  std::thread dripper([&] {
    while (!stop) {
      if (::send(drip.get(), "x", 1, MSG_NOSIGNAL) != 1) break;  // EPIPE once closed
      std::this_thread::sleep_for(milliseconds(300));
    }
  });
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(milliseconds(200));
    EXPECT_EQ(QueryWithin("text", milliseconds(1000)), std::optional<std::string>("reply:text"));
  }
  const std::optional<std::string> got = UntilClosed(drip.get(), kDeadline + milliseconds(1500));
  const auto closed_after = Clock::now() - start;
  stop = true;
  dripper.join();
  ASSERT_TRUE(got.has_value()) << "the drip-feeding client was not closed by its deadline";
  EXPECT_EQ(*got, "");  // closed, not answered
  EXPECT_GE(closed_after, kDeadline);
  EXPECT_EQ(requests(), (std::vector<std::string>{"text", "text", "text"}));
}

// Each connection arriving at the cap closes the oldest: a flood of stuck
// clients costs at most kMaxClients fds and cannot lock a real reader out.
TEST_F(StatusServerTest, MoreThanTheCapOfStuckClientsCannotLockOutARealOne) {
  const size_t extra = 50;
  const auto start = Clock::now();
  std::vector<UniqueFd> stuck;
  for (size_t i = 0; i < StatusServer::kMaxClients + extra; ++i) stuck.push_back(Connect());
  EXPECT_EQ(QueryWithin("text", milliseconds(1500)), std::optional<std::string>("reply:text"));
  EXPECT_EQ(requests(), (std::vector<std::string>{"text"}));
  // Before any deadline, only the oldest are closed: the first `extra` (and
  // the next one if the real client was held open a moment, to wait for its
  // request); the newest kMaxClients - 1 are still open.
  if (Clock::now() - start < kDeadline - milliseconds(500)) {
    for (size_t i = 0; i < stuck.size(); ++i) {
      if (i < extra) {
        EXPECT_FALSE(StillOpen(stuck[i].get())) << "stuck client " << i << " is still open";
      } else if (i > extra) {
        EXPECT_TRUE(StillOpen(stuck[i].get())) << "stuck client " << i << " was closed";
      }
    }
  }
  for (size_t i = 0; i < extra; ++i) {
    EXPECT_EQ(UntilClosed(stuck[i].get(), milliseconds(100)), std::optional<std::string>(""));
  }
}

// The old server blocked in send() on it, up to 1 s per call.
TEST_F(StatusServerTest,
       AClientThatNeverReadsALargeReplyDoesNotBlockAnotherAndIsClosedAtItsDeadline) {
  const size_t big = 8 * 1024 * 1024;  // far more than a socket buffers
  {
    std::lock_guard<std::mutex> lock(mu_);
    big_reply_ = std::string(big, 'b');
  }
  const auto start = Clock::now();
  UniqueFd stuck = Connect();
  ASSERT_EQ(::send(stuck.get(), "big\n", 4, MSG_NOSIGNAL), 4);
  std::this_thread::sleep_for(milliseconds(50));  // the server has filled its socket
  EXPECT_LT(TimedQuery(), milliseconds(900));
  EXPECT_LT(TimedQuery(), milliseconds(900));
  // Read only once its deadline is over: what the socket held, then EOF.
  std::this_thread::sleep_until(start + kDeadline + milliseconds(200));
  const std::optional<std::string> got = UntilClosed(stuck.get(), milliseconds(2000));
  ASSERT_TRUE(got.has_value()) << "the client that did not read was not closed";
  EXPECT_GT(got->size(), 0u);
  EXPECT_LT(got->size(), big);
  EXPECT_EQ(got->find_first_not_of('b'), std::string::npos);
  EXPECT_EQ(requests(), (std::vector<std::string>{"big", "text", "text"}));
}

TEST_F(StatusServerTest, AClientThatReadsALargeReplyGetsAllOfIt) {
  const size_t big = 8 * 1024 * 1024;
  {
    std::lock_guard<std::mutex> lock(mu_);
    big_reply_ = std::string(big, 'b');
  }
  Result<std::string> reply = QueryStatus(path_, "big");
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_EQ(reply->size(), big);
}

TEST_F(StatusServerTest, StopWhileClientsAreConnectedReturnsRunPromptlyAndClosesThem) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    big_reply_ = std::string(8 * 1024 * 1024, 'b');
  }
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 20; ++i) clients.push_back(Connect());  // silent
  clients.push_back(Connect());
  ASSERT_EQ(::send(clients.back().get(), "te", 2, MSG_NOSIGNAL), 2);  // half a request
  clients.push_back(Connect());
  ASSERT_EQ(::send(clients.back().get(), "big\n", 4, MSG_NOSIGNAL), 4);  // never read
  std::this_thread::sleep_for(milliseconds(50));  // the server has accepted them all
  const auto start = Clock::now();
  StopServer();
  EXPECT_LT(Clock::now() - start, milliseconds(500));
  // Closed as Run() returned, well before their deadline.
  for (size_t i = 0; i < clients.size(); ++i) {
    EXPECT_TRUE(UntilClosed(clients[i].get(), milliseconds(500)).has_value())
        << "client " << i << " is still open";
  }
  EXPECT_FALSE(ConnectUnixSocket(path_, SOCK_STREAM).ok());  // refused, not left waiting
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
