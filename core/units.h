// Page and byte units shared by every ubc module.
//
// Counters are kept in pages of kPageBytes, as /proc/user_beancounters does;
// "unlimited" is LONG_MAX pages. Pure constants and arithmetic helpers, no
// state, safe from any thread.
#pragma once

#include <cstdint>

namespace ubc {

inline constexpr uint64_t kPageBytes = 4096;
inline constexpr uint64_t kUnlimitedPages = 9223372036854775807ULL;  // LONG_MAX

// Pages needed to cover `bytes` (PAGE_ALIGN(bytes) / page size), without overflow
// for lengths near 2^64.
inline constexpr uint64_t PagesForBytes(uint64_t bytes) {
  return bytes / kPageBytes + (bytes % kPageBytes != 0 ? 1 : 0);
}

// Page number of the page that contains `address` rounded up (PAGE_ALIGN).
inline constexpr uint64_t PageAlignUpPages(uint64_t address) { return PagesForBytes(address); }

// a + b clamped to UINT64_MAX, for sums that must never wrap.
inline constexpr uint64_t SaturatingAdd(uint64_t a, uint64_t b) {
  return a + b < a ? UINT64_MAX : a + b;
}

}  // namespace ubc
