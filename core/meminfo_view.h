// MeminfoView: the /proc/meminfo text a container is shown (docs/accounting.md,
// "What the container sees"), made from the host's text and the container's
// figures.
//
// The host's lines keep their order and layout; each field is either
// computed from the container's figures, copied from the host (sizes of the
// machine's address space and huge-page pool, which are not memory the
// container holds), or 0 (host-wide caches, swap and kernel memory: privvmpages
// does not count them, and the host's values would exceed the container's
// total). So procps' `free` (used = MemTotal − MemFree − Buffers − Cached −
// SReclaimable) shows the beancounter's held pages as used. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ubc {

// The file system type ubcd's view is mounted as (supervisor/proc_view_fs.h).
inline constexpr char kProcViewFsType[] = "fuse.ubc";

struct MeminfoFigures {
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;    // <= total_bytes
  uint64_t shmem_bytes = 0;   // shmpages held
  uint64_t locked_bytes = 0;  // lockedpages held
};

// `host_text` is the host's /proc/meminfo. Lines that do not parse as
// "Name: value [kB]" are copied unchanged.
std::string RenderContainerMeminfo(std::string_view host_text, const MeminfoFigures& figures);

}  // namespace ubc
