#include "core/vz_value.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>

#include "core/units.h"

namespace ubc {
namespace {

constexpr uint64_t kKiB = 1024;

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Operators paste values from shell configs; surrounding blanks are not an error.
std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Bytes per unit for a suffix; 0 for P (the unit is already pages).
std::optional<uint64_t> SuffixBytes(char c) {
  switch (std::toupper(static_cast<unsigned char>(c))) {
    case 'B':
      return 1;
    case 'K':
      return kKiB;
    case 'M':
      return kKiB * kKiB;
    case 'G':
      return kKiB * kKiB * kKiB;
    case 'T':
      return kKiB * kKiB * kKiB * kKiB;
    case 'P':
      return 0;
    default:
      return std::nullopt;
  }
}

uint64_t ClampPages(uint64_t pages) { return pages > kUnlimitedPages ? kUnlimitedPages : pages; }

// Integer count of units -> pages, exactly and saturating: integer inputs never
// go through floating point, so "9007199254740993" stays that number.
uint64_t IntegerToPages(uint64_t count, uint64_t unit_bytes) {
  if (unit_bytes == 0) return ClampPages(count);  // P
  if (unit_bytes >= kPageBytes) {                 // M, G, T: whole pages per unit
    uint64_t pages = 0;
    if (__builtin_mul_overflow(count, unit_bytes / kPageBytes, &pages)) return kUnlimitedPages;
    return ClampPages(pages);
  }
  // B, K: several units per page; round up. count * unit_bytes may overflow, so
  // divide first.
  const uint64_t per_page = kPageBytes / unit_bytes;
  return ClampPages(count / per_page + (count % per_page != 0 ? 1 : 0));
}

// Fractional count (digits already validated, so no inf/nan/exponent) -> pages.
uint64_t FractionToPages(long double count, uint64_t unit_bytes) {
  const long double pages = unit_bytes == 0 ? count
                                            : count * static_cast<long double>(unit_bytes) /
                                                  static_cast<long double>(kPageBytes);
  const long double rounded = std::ceil(pages);
  // long double has a 64-bit mantissa, so LONG_MAX is exact here.
  if (rounded >= static_cast<long double>(kUnlimitedPages)) return kUnlimitedPages;
  return static_cast<uint64_t>(rounded);
}

// The value parser without the "invalid value" prefix; returns the reason.
Result<uint64_t> ParseValue(std::string_view text) {
  text = TrimBlanks(text);
  if (text.empty()) return Status::Error("empty value");
  if (EqualsIgnoreCase(text, "unlimited")) return kUnlimitedPages;
  if (text.front() == '-') return Status::Error("negative values are not allowed");

  size_t i = 0;
  while (i < text.size() && IsDigit(text[i])) ++i;
  const size_t int_end = i;
  bool has_fraction = false;
  if (i < text.size() && text[i] == '.') {
    has_fraction = true;
    ++i;
    while (i < text.size() && IsDigit(text[i])) ++i;
  }
  const std::string_view number = text.substr(0, i);
  if (int_end == 0 && (!has_fraction || number.size() == 1)) {
    return Status::Error("not a number");
  }

  uint64_t unit_bytes = 0;  // pages unless a suffix says otherwise
  if (i < text.size()) {
    const char c = text[i];
    const std::optional<uint64_t> bytes = SuffixBytes(c);
    if (!bytes) {
      if (std::isalpha(static_cast<unsigned char>(c))) {
        return Status::Error(std::string("unknown suffix '") + c + "'");
      }
      return Status::Error(std::string("unexpected character '") + c + "'");
    }
    if (i + 1 != text.size()) {
      return Status::Error("trailing characters after suffix '" + std::string(1, c) + "'");
    }
    unit_bytes = *bytes;
  }

  if (!has_fraction) {
    uint64_t count = 0;
    const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), count);
    // Only out-of-range can fail on validated digits: a number that large clamps.
    if (ec != std::errc() || ptr != number.data() + number.size()) return kUnlimitedPages;
    return IntegerToPages(count, unit_bytes);
  }

  long double count = 0;
  // from_chars is locale-independent (strtold would honour a ',' decimal point).
  const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), count,
                                         std::chars_format::fixed);
  if (ec == std::errc::result_out_of_range) return kUnlimitedPages;
  if (ec != std::errc() || ptr != number.data() + number.size()) {
    return Status::Error("not a number");
  }
  return FractionToPages(count, unit_bytes);
}

// A count (no unit) without the "invalid value" prefix; returns the reason.
Result<uint64_t> ParseCount(std::string_view text) {
  text = TrimBlanks(text);
  if (text.empty()) return Status::Error("empty value");
  if (EqualsIgnoreCase(text, "unlimited")) return kUnlimitedPages;
  if (text.front() == '-') return Status::Error("negative values are not allowed");
  size_t i = 0;
  while (i < text.size() && IsDigit(text[i])) ++i;
  if (i == 0) return Status::Error("not a number");
  if (i < text.size()) {
    const char c = text[i];
    if (c == '.') return Status::Error("a count must be a whole number");
    if (std::isalpha(static_cast<unsigned char>(c)) && SuffixBytes(c)) {
      // "64K" would be 64 KiB for a size; a number of tasks has no unit.
      return Status::Error(std::string("suffix '") + c + "' is not allowed: a count takes no unit");
    }
    return Status::Error(std::string("unexpected character '") + c + "'");
  }
  uint64_t count = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + i, count);
  // Only out-of-range can fail on validated digits: a number that large clamps.
  if (ec != std::errc() || ptr != text.data() + i) return kUnlimitedPages;
  return ClampPages(count);
}

// "B:L" or "V" with `parse` for each value; errors carry the whole text.
Result<BarrierLimit> ParsePair(std::string_view text, Result<uint64_t> (*parse)(std::string_view)) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    Result<uint64_t> v = parse(text);
    if (!v.ok()) return Status::Error("invalid value " + Quote(text) + ": " + v.status().message());
    return BarrierLimit{*v, *v};
  }
  if (text.find(':', colon + 1) != std::string_view::npos) {
    return Status::Error("invalid value " + Quote(text) + ": more than one ':'");
  }
  Result<uint64_t> barrier = parse(text.substr(0, colon));
  if (!barrier.ok()) {
    return Status::Error("invalid value " + Quote(text) +
                         ": barrier: " + barrier.status().message());
  }
  Result<uint64_t> limit = parse(text.substr(colon + 1));
  if (!limit.ok()) {
    return Status::Error("invalid value " + Quote(text) + ": limit: " + limit.status().message());
  }
  return BarrierLimit{*barrier, *limit};
}

}  // namespace

Result<uint64_t> ParseVzValuePages(std::string_view text) {
  Result<uint64_t> r = ParseValue(text);
  if (!r.ok()) return Status::Error("invalid value " + Quote(text) + ": " + r.status().message());
  return r;
}

Result<BarrierLimit> ParseVzBarrierLimit(std::string_view text) {
  return ParsePair(text, &ParseValue);
}

Result<uint64_t> ParseVzCount(std::string_view text) {
  Result<uint64_t> r = ParseCount(text);
  if (!r.ok()) return Status::Error("invalid value " + Quote(text) + ": " + r.status().message());
  return r;
}

Result<BarrierLimit> ParseVzCountBarrierLimit(std::string_view text) {
  return ParsePair(text, &ParseCount);
}

std::string FormatVzValuePages(uint64_t pages) {
  return pages >= kUnlimitedPages ? "unlimited" : std::to_string(pages);
}

std::string FormatVzBarrierLimit(const BarrierLimit& bl) {
  return FormatVzValuePages(bl.barrier_pages) + ":" + FormatVzValuePages(bl.limit_pages);
}

}  // namespace ubc
