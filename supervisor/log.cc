#include "supervisor/log.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <optional>
#include <vector>

#include "core/log_escape.h"
#include "core/log_rate_limiter.h"
#include "core/monotonic_clock.h"

namespace ubc {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
const char* const kNames[] = {"error", "warning", "info", "debug"};

// One limiter per level, so that a summary has its lines' level.
struct Limiters {
  std::mutex mu;
  std::array<LogRateLimiter, 4> by_level{LogRateLimiter({kLimitedLines, kLimitedIntervalMs}),
                                         LogRateLimiter({kLimitedLines, kLimitedIntervalMs}),
                                         LogRateLimiter({kLimitedLines, kLimitedIntervalMs}),
                                         LogRateLimiter({kLimitedLines, kLimitedIntervalMs})};
};
Limiters& TheLimiters() {
  static Limiters* limiters = new Limiters;  // never destroyed: threads may log at exit
  return *limiters;
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }

bool ParseLogLevel(std::string_view name, LogLevel* level) {
  for (int i = 0; i < 4; ++i) {
    if (name == kNames[i]) {
      *level = static_cast<LogLevel>(i);
      return true;
    }
  }
  return false;
}

bool LogEnabled(LogLevel level) { return static_cast<int>(level) <= g_level.load(); }

void Log(LogLevel level, const std::string& message) {
  if (!LogEnabled(level)) return;
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  tm utc{};
  gmtime_r(&now.tv_sec, &utc);
  char stamp[96];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                now.tv_nsec / 1000000);
  // Messages carry text containers choose (a thread's comm may hold a
  // newline): escaped, a line stays one line.
  std::string line = std::string(stamp) + " ubcd " + kNames[static_cast<int>(level)] + ": " +
                     EscapeForLog(message) + "\n";
  // One write per line keeps concurrent lines whole; a failed log write has
  // nowhere to be reported.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

void LogLimited(LogLevel level, const std::string& key, const std::string& what,
                const std::string& message) {
  if (!LogEnabled(level)) return;
  std::optional<LogRateLimiter::Summary> ended;
  bool write;
  {
    Limiters& l = TheLimiters();
    std::lock_guard<std::mutex> lock(l.mu);
    write = l.by_level[static_cast<size_t>(level)].Admit(key, what, CoarseMonotonicMs(), &ended);
  }
  if (ended) Log(level, ended->Line());
  if (write) Log(level, message);
}

void FlushLogSummaries() {
  std::array<std::vector<LogRateLimiter::Summary>, 4> due;
  {
    Limiters& l = TheLimiters();
    std::lock_guard<std::mutex> lock(l.mu);
    const int64_t now = CoarseMonotonicMs();
    for (size_t i = 0; i < due.size(); ++i) due[i] = l.by_level[i].Flush(now);
  }
  for (size_t i = 0; i < due.size(); ++i) {
    for (const LogRateLimiter::Summary& s : due[i]) Log(static_cast<LogLevel>(i), s.Line());
  }
}

}  // namespace ubc
