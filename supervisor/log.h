// Log: one line per event on stderr, safe from any thread.
//
// Lines are "TIMESTAMP ubcd LEVEL: message" (UTC, milliseconds), the message
// escaped by core/log_escape.h so that text a container chose cannot end the
// line or forge another, each written with a single write(2) so lines from
// concurrent threads never interleave. The level threshold is set once at
// start-up from the config.
#pragma once

#include <string>
#include <string_view>

namespace ubc {

enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

void SetLogLevel(LogLevel level);
bool ParseLogLevel(std::string_view name, LogLevel* level);
bool LogEnabled(LogLevel level);
void Log(LogLevel level, const std::string& message);

}  // namespace ubc
