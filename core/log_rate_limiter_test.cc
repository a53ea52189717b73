#include "core/log_rate_limiter.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace ubc {
namespace {

constexpr char kWhat[] = "refusals of mmap by container web-1";

TEST(LogRateLimiterTest, TheFirstLinesOfAWindowAreWrittenTheRestCounted) {
  LogRateLimiter limiter({3, 10000});
  std::optional<LogRateLimiter::Summary> ended;
  int written = 0;
  for (int i = 0; i < 100; ++i) written += limiter.Admit("k", kWhat, 1000 + i, &ended);
  EXPECT_EQ(written, 3);
  EXPECT_FALSE(ended.has_value());
  EXPECT_TRUE(limiter.Flush(10999).empty());  // the window is not over yet
  // The key's next line after the window: the summary first, then the line.
  EXPECT_TRUE(limiter.Admit("k", kWhat, 11000, &ended));
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->suppressed, 97u);
  EXPECT_EQ(ended->Line(), "97 more refusals of mmap by container web-1 in the last 10 s");
}

TEST(LogRateLimiterTest, FlushSummarisesWindowsThatWentQuietAndForgetsThem) {
  LogRateLimiter limiter({1, 500});
  for (int i = 0; i < 5; ++i) (void)limiter.Admit("a", "lines a", 0, nullptr);
  (void)limiter.Admit("b", "lines b", 0, nullptr);  // one line: nothing suppressed
  (void)limiter.Admit("c", "lines c", 400, nullptr);
  EXPECT_EQ(limiter.keys(), 3u);
  std::vector<LogRateLimiter::Summary> s = limiter.Flush(600);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].Line(), "4 more lines a in the last 500 ms");
  EXPECT_EQ(limiter.keys(), 1u);  // only c's window is still open
  // A flushed key starts afresh: its next line is written, no summary again.
  std::optional<LogRateLimiter::Summary> ended;
  EXPECT_TRUE(limiter.Admit("a", "lines a", 700, &ended));
  EXPECT_FALSE(ended.has_value());
}

TEST(LogRateLimiterTest, KeysAreCountedApart) {
  LogRateLimiter limiter({2, 1000});
  std::optional<LogRateLimiter::Summary> ended;
  EXPECT_TRUE(limiter.Admit("x", "x", 0, &ended));
  EXPECT_TRUE(limiter.Admit("x", "x", 1, &ended));
  EXPECT_FALSE(limiter.Admit("x", "x", 2, &ended));
  EXPECT_TRUE(limiter.Admit("y", "y", 3, &ended));  // another key has its own budget
  EXPECT_FALSE(ended.has_value());
}

}  // namespace
}  // namespace ubc
