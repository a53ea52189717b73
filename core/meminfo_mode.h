// MeminfoMode: what a container is shown as its memory (sysinfo(2), and the
// per-container /proc/meminfo), as vzctl's --meminfo says it
// (docs/accounting.md, "What the container sees"):
//   "none"           the host's figures; sysinfo is not trapped;
//   "privvmpages:N"  total = privvmpages barrier × N pages, free = (barrier −
//                    held) × N (the default, N = 1);
//   "pages:N"        a fixed total of N pages, free = N − privvmpages held.
// Pure value type and parser.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ubc {

struct MeminfoMode {
  enum class Kind { kNone, kPrivvmpages, kPages };
  Kind kind = Kind::kPrivvmpages;
  uint64_t value = 1;  // kPrivvmpages: the multiplier N; kPages: total pages
  bool operator==(const MeminfoMode&) const = default;
};

inline constexpr char kDefaultMeminfoMode[] = "privvmpages:1";

// Errors say what is accepted: "none", "privvmpages:N" (N 1..1000000),
// "pages:N" (N >= 1 pages; a vzctl size suffix K/M/G/T is accepted).
Result<MeminfoMode> ParseMeminfoMode(std::string_view text);
std::string FormatMeminfoMode(const MeminfoMode& mode);

}  // namespace ubc
