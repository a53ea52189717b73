// Kernel bounds: the kernel's own limits ubc-hook writes into an opted-in
// container's OCI config, for the memory seccomp cannot see being asked for
// (docs/accounting.md, "Growth the kernel does without a syscall").
//
// The notify rules catch every call that maps private writable memory, but
// the kernel also grows memory on its own: a stack grows on a page fault, and
// exec maps the new image's data and bss. Private pages that never pass a
// trapped call, and shared pages (tmpfs, memfd, SysV shm), are bounded here
// by what the kernel enforces itself:
//   - RLIMIT_DATA (hard): one process's private writable non-stack memory,
//     the exec'd image's bss included (the kernel kills an image that does
//     not fit): the privvmpages limit, but not below a floor the runtime
//     itself needs;
//   - RLIMIT_STACK (hard): each stack and MAP_GROWSDOWN mapping, at most the
//     stack bound (the supervisor's headroom for growth between exact reads);
//   - `size=` on every tmpfs mount: what files in it can hold;
//   - linux.resources.memory.limit: the container's memory cgroup, a physical
//     backstop (the OOM killer, not ENOMEM) for whatever the rest misses.
// A bound the config already sets tighter is kept. Without CAP_SYS_RESOURCE
// (containers do not get it by default) a process cannot raise a hard rlimit.
//
// Pure functions over plain values and an nlohmann document; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/units.h"
#include "core/vz_value.h"

namespace ubc {

// The operator's part (hook settings "kernel_bounds").
struct KernelBoundsSettings {
  bool enabled = true;
  uint64_t stack_bytes = uint64_t{8} << 20;  // the usual RLIMIT_STACK soft limit
  // RLIMIT_DATA is never set below this: the runtime's own init process runs
  // under the container's rlimits between setting them and its exec, and
  // runc's (Go) needs 64-96 MiB of private writable memory just to start.
  uint64_t data_floor_bytes = uint64_t{256} << 20;
  bool memory_cgroup = true;                          // write linux.resources.memory.limit
  uint64_t memory_margin_bytes = uint64_t{64} << 20;  // page tables, kernel memory, caches
};

// What one container gets; nullopt: leave that one as the config has it.
struct KernelBounds {
  std::optional<uint64_t> data_bytes;
  std::optional<uint64_t> stack_bytes;
  std::optional<uint64_t> tmpfs_bytes;
  std::optional<uint64_t> memory_bytes;
  // linux.resources.pids.limit: the numproc limit, enforced by the pids
  // cgroup (a fork past it fails with EAGAIN).
  std::optional<int64_t> pids_limit;
};

// The bounds for a container with these privvmpages and shmpages. An
// unlimited privvmpages limit (or disabled settings) bounds nothing.
// RLIMIT_DATA is max(limit, data floor), RLIMIT_STACK at most that. The
// memory cgroup gets the private pages the privvmpages limit allows, plus
// the shmpages limit for shared memory (the privvmpages limit again while
// shmpages is unlimited), plus the margin. A finite numproc limit (tasks)
// becomes the pids cgroup's limit whatever privvmpages is.
KernelBounds KernelBoundsFor(const BarrierLimit& privvmpages, const BarrierLimit& shmpages,
                             const KernelBoundsSettings& settings,
                             const BarrierLimit& numproc = {kUnlimitedPages, kUnlimitedPages});

// Writes `bounds` into the OCI config `doc` (process.rlimits, mounts,
// linux.resources.memory.limit, linux.resources.pids.limit), keeping tighter
// values the config has.
// Errors name the field ("process.rlimits[2].hard: not a non-negative
// integer") and leave `doc` unchanged.
Status ApplyKernelBounds(nlohmann::json& doc, const KernelBounds& bounds);

// A tmpfs `size=` value in bytes ("64m", "65536k", "1g", "4096"); nullopt for
// what cannot be turned into bytes here (a percentage of RAM, garbage).
std::optional<uint64_t> ParseTmpfsSizeBytes(std::string_view text);

}  // namespace ubc
