#include "core/stack_headroom.h"

#include <charconv>

#include "core/units.h"

namespace ubc {
namespace {

// The next whitespace-separated field of *rest, consumed.
std::string_view NextField(std::string_view* rest) {
  const size_t start = rest->find_first_not_of(" \t");
  if (start == std::string_view::npos) {
    *rest = {};
    return {};
  }
  const size_t end = rest->find_first_of(" \t", start);
  std::string_view field = rest->substr(start, end == std::string_view::npos ? end : end - start);
  *rest = end == std::string_view::npos ? std::string_view{} : rest->substr(end);
  return field;
}

}  // namespace

std::optional<uint64_t> ParseStackHardLimitBytes(std::string_view proc_limits) {
  // "Max stack size            8388608              unlimited            bytes"
  constexpr std::string_view kName = "Max stack size";
  while (!proc_limits.empty()) {
    const size_t eol = proc_limits.find('\n');
    std::string_view line = proc_limits.substr(0, eol);
    proc_limits = eol == std::string_view::npos ? std::string_view{} : proc_limits.substr(eol + 1);
    if (line.substr(0, kName.size()) != kName) continue;
    std::string_view rest = line.substr(kName.size());
    const std::string_view soft = NextField(&rest);
    const std::string_view hard = NextField(&rest);
    if (soft.empty() || NextField(&rest) != "bytes") return std::nullopt;
    if (hard == "unlimited") return kUnlimitedStackBytes;
    uint64_t bytes = 0;
    auto [end, ec] = std::from_chars(hard.data(), hard.data() + hard.size(), bytes);
    if (ec != std::errc() || end != hard.data() + hard.size()) return std::nullopt;
    return bytes;
  }
  return std::nullopt;
}

uint64_t StackHeadroomPages(std::optional<uint64_t> hard_limit_bytes) {
  if (!hard_limit_bytes || *hard_limit_bytes > kMaxStackHeadroomBytes) {
    return kDefaultStackHeadroomPages;
  }
  return PagesForBytes(*hard_limit_bytes);
}

}  // namespace ubc
