#include "supervisor/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/unique_fd.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

// Sends this process's stderr to `file` until destroyed (or Restore()).
class CapturedStderr {
 public:
  explicit CapturedStderr(const std::filesystem::path& file) {
    std::fflush(stderr);
    saved_ = UniqueFd(::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3));
    UniqueFd out(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!saved_ || !out || ::dup2(out.get(), STDERR_FILENO) < 0) {
      ADD_FAILURE() << "cannot send stderr to " << file << ": " << std::strerror(errno);
    }
  }
  ~CapturedStderr() { Restore(); }
  CapturedStderr(const CapturedStderr&) = delete;
  CapturedStderr& operator=(const CapturedStderr&) = delete;

  void Restore() {
    if (!saved_) return;
    ::dup2(saved_.get(), STDERR_FILENO);
    saved_.reset();
  }

 private:
  UniqueFd saved_;
};

// "2024-05-01T12:34:56.789Z ubcd LEVEL: MESSAGE"
const std::regex kLine(R"((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{3}Z ubcd )"
                       R"((error|warning|info|debug): (.*))");

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class LogTest : public ::testing::Test {
 protected:
  // The level is process-wide: each test starts and ends at the default.
  void SetUp() override { SetLogLevel(LogLevel::kInfo); }
  void TearDown() override { SetLogLevel(LogLevel::kInfo); }

  // What Log() wrote to stderr while `log` ran.
  std::string Captured(const std::function<void()>& log) {
    const std::filesystem::path file = dir_.Path("stderr");
    {
      CapturedStderr capture(file);
      log();
    }
    return ReadFileForTest(file);
  }

  TempDir dir_{"ubc-log-test"};
};

TEST_F(LogTest, ParseLogLevelKnowsTheFourNamesExactly) {
  const struct {
    const char* name;
    LogLevel want;
  } known[] = {
      {"error", LogLevel::kError},
      {"warning", LogLevel::kWarning},
      {"info", LogLevel::kInfo},
      {"debug", LogLevel::kDebug},
  };
  for (const auto& k : known) {
    LogLevel level = k.want == LogLevel::kError ? LogLevel::kDebug : LogLevel::kError;
    EXPECT_TRUE(ParseLogLevel(k.name, &level)) << k.name;
    EXPECT_EQ(level, k.want) << k.name;
  }
  for (const char* unknown : {"", "INFO", "Error", "warn", "debug ", " info", "verbose", "3"}) {
    LogLevel level = LogLevel::kWarning;
    EXPECT_FALSE(ParseLogLevel(unknown, &level)) << '"' << unknown << '"';
    EXPECT_EQ(level, LogLevel::kWarning) << '"' << unknown << '"';
  }
}

TEST_F(LogTest, TheLevelIsAThreshold) {
  const LogLevel levels[] = {LogLevel::kError, LogLevel::kWarning, LogLevel::kInfo,
                             LogLevel::kDebug};
  for (LogLevel set : levels) {
    SetLogLevel(set);
    for (LogLevel asked : levels) {
      EXPECT_EQ(LogEnabled(asked), static_cast<int>(asked) <= static_cast<int>(set))
          << "level " << static_cast<int>(set) << ", asked " << static_cast<int>(asked);
    }
  }
}

// Not a LogTest: its SetUp would set the level being looked at.
TEST(LogDefaultTest, InfoIsTheLevelUntilOneIsSet) {
  // In a fresh process (the test binary run again for this test alone):
  // nothing has set a level there.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::_Exit(LogEnabled(LogLevel::kInfo) && !LogEnabled(LogLevel::kDebug) ? 0 : 1),
              ::testing::ExitedWithCode(0), "");
}

TEST_F(LogTest, ALineIsAUtcTimestampUbcdTheLevelAndTheMessage) {
  const time_t before = std::time(nullptr);
  const std::string text = Captured([] { Log(LogLevel::kWarning, "container c1: disk full"); });
  const time_t after = std::time(nullptr);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  const std::vector<std::string> lines = Lines(text);
  ASSERT_EQ(lines.size(), 1u) << text;
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lines[0], m, kLine)) << lines[0];
  EXPECT_EQ(m[7], "warning");
  EXPECT_EQ(m[8], "container c1: disk full");
  tm utc{};
  utc.tm_year = std::stoi(m[1]) - 1900;
  utc.tm_mon = std::stoi(m[2]) - 1;
  utc.tm_mday = std::stoi(m[3]);
  utc.tm_hour = std::stoi(m[4]);
  utc.tm_min = std::stoi(m[5]);
  utc.tm_sec = std::stoi(m[6]);
  const time_t stamp = ::timegm(&utc);
  EXPECT_GE(stamp, before);
  EXPECT_LE(stamp, after);
}

TEST_F(LogTest, EachLevelIsNamedInItsLine) {
  SetLogLevel(LogLevel::kDebug);
  const std::string text = Captured([] {
    Log(LogLevel::kError, "one");
    Log(LogLevel::kWarning, "two");
    Log(LogLevel::kInfo, "three");
    Log(LogLevel::kDebug, "four");
  });
  const std::vector<std::string> lines = Lines(text);
  ASSERT_EQ(lines.size(), 4u) << text;
  const char* const want[][2] = {
      {"error", "one"}, {"warning", "two"}, {"info", "three"}, {"debug", "four"}};
  for (size_t i = 0; i < 4; ++i) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(lines[i], m, kLine)) << lines[i];
    EXPECT_EQ(m[7], want[i][0]);
    EXPECT_EQ(m[8], want[i][1]);
  }
}

TEST_F(LogTest, LinesBelowTheLevelAreNotWritten) {
  SetLogLevel(LogLevel::kWarning);
  const std::string text = Captured([] {
    Log(LogLevel::kDebug, "hidden debug");
    Log(LogLevel::kInfo, "hidden info");
    Log(LogLevel::kWarning, "shown warning");
    Log(LogLevel::kError, "shown error");
  });
  const std::vector<std::string> lines = Lines(text);
  ASSERT_EQ(lines.size(), 2u) << text;
  EXPECT_NE(lines[0].find(" ubcd warning: shown warning"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find(" ubcd error: shown error"), std::string::npos) << lines[1];

  SetLogLevel(LogLevel::kError);
  EXPECT_EQ(Captured([] { Log(LogLevel::kWarning, "hidden"); }), "");
}

TEST_F(LogTest, TheMessageIsWrittenAsItIsNotAsAFormat) {
  const std::string message = "100% %s %n %d \\x41 \"quoted\" caf\xc3\xa9";
  const std::string text = Captured([&] { Log(LogLevel::kError, message); });
  const std::vector<std::string> lines = Lines(text);
  ASSERT_EQ(lines.size(), 1u) << text;
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lines[0], m, kLine)) << lines[0];
  // Only the backslash is escaped (doubled); UTF-8 stays.
  EXPECT_EQ(m[8], "100% %s %n %d \\\\x41 \"quoted\" caf\xc3\xa9");
  // Long messages are not cut.
  const std::string long_message(10000, 'x');
  const std::string long_text = Captured([&] { Log(LogLevel::kError, long_message); });
  const std::vector<std::string> long_lines = Lines(long_text);
  ASSERT_EQ(long_lines.size(), 1u);
  ASSERT_TRUE(std::regex_match(long_lines[0], m, kLine));
  EXPECT_EQ(m[8], long_message);
}

TEST_F(LogTest, TextAContainerChoseCannotEndTheLineOrForgeAnother) {
  // A thread may name itself "x\n<timestamp> ubcd info: ..." (PR_SET_NAME).
  const std::string comm = "x\n2026-01-01T00:00:00.000Z ubcd info: forged\xff";
  const std::string text =
      Captured([&] { Log(LogLevel::kWarning, "refused comm=" + comm + " syscall=mmap"); });
  const std::vector<std::string> lines = Lines(text);
  ASSERT_EQ(lines.size(), 1u) << text;
  std::smatch m;
  ASSERT_TRUE(std::regex_match(lines[0], m, kLine)) << lines[0];
  EXPECT_EQ(m[8], "refused comm=x\\n2026-01-01T00:00:00.000Z ubcd info: forged\\xff syscall=mmap");
}

TEST_F(LogTest, LinesFromConcurrentThreadsNeverInterleave) {
  constexpr int kThreads = 8;
  constexpr int kLinesEach = 300;
  const std::string text = Captured([] {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([t] {
        const std::string body(200, static_cast<char>('a' + t));
        for (int i = 0; i < kLinesEach; ++i) Log(LogLevel::kInfo, body + " " + std::to_string(i));
      });
    }
    for (std::thread& th : threads) th.join();
  });
  const std::vector<std::string> lines = Lines(text);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLinesEach));
  int counts[kThreads] = {};
  for (const std::string& line : lines) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, kLine)) << line;
    const std::string message = m[8];
    const char c = message.empty() ? '?' : message[0];
    ASSERT_TRUE(c >= 'a' && c < 'a' + kThreads) << line;
    ASSERT_EQ(message.substr(0, 200), std::string(200, c)) << line;
    ++counts[c - 'a'];
  }
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(counts[t], kLinesEach) << "thread " << t;
}

}  // namespace
}  // namespace ubc
