// Log escaping: makes any text safe to put in one log line.
//
// ubcd's log lines carry text other processes choose: a container thread's
// comm (PR_SET_NAME takes any 15 bytes, a newline included), container ids
// and paths from the runtime, messages that quote input. EscapeForLog keeps
// printable ASCII and well-formed UTF-8 as they are and writes everything
// else so that a line stays one line and says which bytes it held: `\n`,
// `\r`, `\t`, `\\` for those, `\xNN` for other control bytes, DEL and every
// byte of an ill-formed UTF-8 sequence (overlong forms, surrogates, code
// points above U+10FFFF, truncated sequences). Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace ubc {

std::string EscapeForLog(std::string_view text);

}  // namespace ubc
