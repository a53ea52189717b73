// PersistedState: the counters ubcd cannot re-read from the kernel after a
// restart (maxheld, failcnt, limits changed live), as a small JSON document.
//
// Held always comes back from the kernel; these do not, so ubcd writes them to
// a state file (atomically, by rename) and reads them back when it recovers a
// container from the fd store. Pure serialisation; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/meminfo_mode.h"
#include "core/status.h"
#include "core/vz_value.h"

namespace ubc {

struct PersistedContainer {
  uint64_t maxheld_pages = 0;
  uint64_t failcnt = 0;
  // Set when the limits were changed live (REST/ubcctl): they win over the
  // annotations and files the container is rebuilt from.
  std::optional<BarrierLimit> api_privvmpages;
  uint64_t shm_maxheld_pages = 0;
  uint64_t shm_failcnt = 0;
  std::optional<BarrierLimit> api_shmpages;  // as api_privvmpages
  // numproc counts tasks, not pages: its maxheld is a number of tasks, and
  // api_numproc's BarrierLimit (fields named *_pages) holds counts.
  uint64_t numproc_maxheld = 0;
  uint64_t numproc_failcnt = 0;
  std::optional<BarrierLimit> api_numproc;  // as api_privvmpages
  uint64_t locked_maxheld_pages = 0;
  uint64_t locked_failcnt = 0;
  std::optional<BarrierLimit> api_lockedpages;  // as api_privvmpages
  std::optional<MeminfoMode> api_meminfo;       // as api_privvmpages
  bool operator==(const PersistedContainer&) const = default;
};

using PersistedState = std::map<std::string, PersistedContainer>;  // by container id

// A state file is about 100 bytes per container; anything larger than this is
// not ubcd's.
inline constexpr size_t kMaxStateFileBytes = 64 << 20;

std::string SerializePersistedState(const PersistedState& state);
// Errors name the source and the offending field.
Result<PersistedState> ParsePersistedState(std::string_view text, std::string_view source);

}  // namespace ubc
