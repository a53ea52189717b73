// JsonDepth: refuses JSON nested deeper than any legitimate ubc input, before
// it is parsed.
//
// nlohmann's parser, its copy constructor and dump(), and the schema walk all
// recurse once per nesting level: a few kilobytes of "[[[[..." (found by the
// fuzzers) overflow the stack or make pretty-printed output grow with the
// square of the input. Configs, OCI configs with their seccomp profiles,
// runtime messages and REST bodies nest a handful of levels; kMaxJsonDepth
// leaves ample room. The scan is a single pass over the text, aware of
// strings and escapes. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>

#include "core/status.h"

namespace ubc {

inline constexpr size_t kMaxJsonDepth = 32;

// Ok, or "<source>: JSON nested deeper than 32 levels".
Status CheckJsonDepth(std::string_view text, std::string_view source);

// CheckJsonDepth, then nlohmann's parse with its exception turned into
// "<source>: invalid JSON: <what, with line and column>".
Result<nlohmann::json> ParseCheckedJson(std::string_view text, std::string_view source);

}  // namespace ubc
