// vzctl value syntax for beancounter limits ("barrier:limit").
//
// Parses the values operators write in vzctl configs and `vzctl set
// --privvmpages`: an integer number of pages, `unlimited`, or a number (floats
// allowed) with a suffix K, M, G, T (powers of 1024 bytes, converted to pages
// rounding up), P (pages) or B (bytes). A pair is "barrier:limit"; a single
// value sets both; suffixes may be lowercase and blanks around a value are
// ignored. Counts (numproc's tasks) have their own parsers below: integers and
// `unlimited` only, no suffixes. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ubc {

struct BarrierLimit {
  uint64_t barrier_pages = 0;
  uint64_t limit_pages = 0;
  bool operator==(const BarrierLimit&) const = default;
};

// One value -> pages. Values above kUnlimitedPages clamp to it. Errors name
// the offending text, e.g. "invalid value \"12Q\": unknown suffix 'Q'".
Result<uint64_t> ParseVzValuePages(std::string_view text);

// "B:L" or "V" -> both bounds.
Result<BarrierLimit> ParseVzBarrierLimit(std::string_view text);

// Counts (numproc: tasks, i.e. processes plus threads), not pages: a
// non-negative integer or `unlimited` (any case), blanks around it ignored.
// No suffix is accepted (K, M, G, T, P and B are sizes, meaningless for a
// count), nor a fraction. Counts of kUnlimitedPages and above clamp to it, as
// for pages: the unlimited value is the same LONG_MAX. Errors name the text,
// e.g. "invalid value \"12K\": suffix 'K' is not allowed: a count takes none".
Result<uint64_t> ParseVzCount(std::string_view text);

// "B:L" or "V" of counts -> both bounds, each as ParseVzCount. The result's
// fields are named *_pages but hold counts (for numproc: tasks).
Result<BarrierLimit> ParseVzCountBarrierLimit(std::string_view text);

// Pages (or counts) as vzctl prints them: a number, or "unlimited" for
// kUnlimitedPages.
std::string FormatVzValuePages(uint64_t pages);
std::string FormatVzBarrierLimit(const BarrierLimit& bl);

}  // namespace ubc
