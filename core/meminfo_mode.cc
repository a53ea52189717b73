#include "core/meminfo_mode.h"

#include <charconv>

#include "core/units.h"
#include "core/vz_value.h"

namespace ubc {
namespace {

Status Invalid(std::string_view text, const std::string& why) {
  return Status::Error("invalid meminfo mode \"" + std::string(text.substr(0, 64)) + "\": " + why +
                       " (accepted: none, privvmpages:N, pages:N)");
}

}  // namespace

Result<MeminfoMode> ParseMeminfoMode(std::string_view text) {
  MeminfoMode mode;
  if (text == "none") {
    mode.kind = MeminfoMode::Kind::kNone;
    mode.value = 0;
    return mode;
  }
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return Invalid(text, "no ':'");
  const std::string_view kind = text.substr(0, colon);
  const std::string_view value = text.substr(colon + 1);
  if (kind == "privvmpages") {
    uint64_t n = 0;
    const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || ptr != value.data() + value.size() || value.empty()) {
      return Invalid(text, "N must be a whole number");
    }
    if (n < 1 || n > 1000000) return Invalid(text, "N must be 1 to 1000000");
    mode.kind = MeminfoMode::Kind::kPrivvmpages;
    mode.value = n;
    return mode;
  }
  if (kind == "pages") {
    Result<uint64_t> pages = ParseVzValuePages(value);
    if (!pages.ok()) return Invalid(text, pages.status().message());
    if (*pages == 0 || *pages == kUnlimitedPages) {
      return Invalid(text, "N must be a number of pages of at least 1");
    }
    mode.kind = MeminfoMode::Kind::kPages;
    mode.value = *pages;
    return mode;
  }
  return Invalid(text, "unknown kind \"" + std::string(kind.substr(0, 32)) + "\"");
}

std::string FormatMeminfoMode(const MeminfoMode& mode) {
  switch (mode.kind) {
    case MeminfoMode::Kind::kNone:
      return "none";
    case MeminfoMode::Kind::kPrivvmpages:
      return "privvmpages:" + std::to_string(mode.value);
    case MeminfoMode::Kind::kPages:
      break;
  }
  return "pages:" + std::to_string(mode.value);
}

}  // namespace ubc
