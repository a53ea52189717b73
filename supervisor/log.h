// Log: one line per event on stderr, safe from any thread.
//
// Lines are "TIMESTAMP ubcd LEVEL: message" (UTC, milliseconds), the message
// escaped by core/log_escape.h so that text a container chose cannot end the
// line or forge another, each written with a single write(2) so lines from
// concurrent threads never interleave. The level threshold is set once at
// start-up from the config. LogLimited() thins lines that repeat.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ubc {

enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

void SetLogLevel(LogLevel level);
bool ParseLogLevel(std::string_view name, LogLevel* level);
bool LogEnabled(LogLevel level);
void Log(LogLevel level, const std::string& message);

// Log() for lines that can repeat without bound (refusals, a failing accept):
// per `key`, at most kLimitedLines lines in each kLimitedIntervalMs window are
// written, the rest come out as one summary line at `level`, "N more `what`
// in the last 10 s" (core/log_rate_limiter.h), before the key's next line or
// at the next FlushLogSummaries().
inline constexpr uint32_t kLimitedLines = 10;
inline constexpr int64_t kLimitedIntervalMs = 10000;
void LogLimited(LogLevel level, const std::string& key, const std::string& what,
                const std::string& message);
// Writes the summaries of windows that are over (ubcd's tick, every second).
void FlushLogSummaries();

}  // namespace ubc
