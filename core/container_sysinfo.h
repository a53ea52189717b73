// ContainerSysinfo: the sysinfo(2) answer a container gets under its
// meminfo mode (core/meminfo_mode.h; docs/accounting.md, "What the container
// sees"), and its bytes in the caller's ABI.
//
// Memory is computed from the privvmpages beancounter: the bound allocations
// are refused at is the barrier, so total is the barrier (× N), free what is
// left below it, never more than the host has. Swap is 0 (privvmpages has no
// swap of its own), procs the container's task count, uptime its age; loads
// stay the host's, shared memory the host's capped at what the container
// holds, buffers 0 (host-wide cache). Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/beancounter.h"
#include "core/meminfo_mode.h"
#include "core/syscall_abi.h"

namespace ubc {

// sysinfo's fields in bytes and whole values (mem_unit already applied).
struct SysinfoFacts {
  int64_t uptime_s = 0;
  std::array<uint64_t, 3> loads{};  // fixed point, 1 << SI_LOAD_SHIFT (16) is 1.0
  uint64_t totalram_bytes = 0;
  uint64_t freeram_bytes = 0;
  uint64_t sharedram_bytes = 0;
  uint64_t bufferram_bytes = 0;
  uint64_t totalswap_bytes = 0;
  uint64_t freeswap_bytes = 0;
  uint64_t procs = 0;
  uint64_t totalhigh_bytes = 0;
  uint64_t freehigh_bytes = 0;
  bool operator==(const SysinfoFacts&) const = default;
};

// What the container sees. `host` is the host's sysinfo; `privvmpages` the
// container's counter (held and barrier); `tasks` its processes and
// threads; `age_s` its init's age in seconds (negative: unknown, the host's
// uptime stays). A mode of kNone, or an unlimited barrier under
// privvmpages:N, gives the host's memory figures.
SysinfoFacts ContainerSysinfo(const MeminfoMode& mode, const SysinfoFacts& host,
                              const BeancounterValues& privvmpages, uint64_t tasks, int64_t age_s);

// struct sysinfo as the kernel writes it for `abi`: x86-64 and x32 share the
// 64-bit layout (112 bytes, mem_unit 1); i386 gets compat_sysinfo (64
// bytes), memory scaled into 32-bit fields by a larger mem_unit as the
// kernel's compat path does. Empty for an unknown ABI.
std::vector<uint8_t> EncodeSysinfo(SyscallAbi abi, const SysinfoFacts& facts);

}  // namespace ubc
