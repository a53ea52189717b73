// Accounting readers: the kernel facts a container's accounting needs, behind
// interfaces so the UBC rules are unit-tested with fakes.
//
// TargetReader reads the thread that made one notification (statm, maps,
// stat); it lives for one decision. MemberReader enumerates the container's
// processes and samples their statm data. The /proc implementations live in
// supervisor/ (they check SECCOMP_IOCTL_NOTIF_ID_VALID after opening any file
// of the target, so a recycled pid is never read). Implementations are used by
// one decision at a time: the container's accounting mutex serialises them.
// ShmReader reads the container's IPC namespace (supervisor/ipc_namespace_service.h).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/memory_map.h"
#include "core/status.h"

namespace ubc {

// What /proc/PID/stat says about the caller's image.
struct ImageFacts {
  uint64_t vm_pages = 0;   // vsize: every mapping, so an upper bound of statm data
  uint64_t start_brk = 0;  // mm->start_brk: the break while there is no heap
  uint64_t threads = 1;    // num_threads: another thread may race the caller's calls
};

// Facts about the thread that made the call.
class TargetReader {
 public:
  virtual ~TargetReader() = default;
  // statm "data" of the caller's address space, in pages.
  virtual Result<uint64_t> DataPages() = 0;
  virtual Result<std::vector<MapEntry>> Maps() = 0;
  // /proc/PID/stat fields 20 (num_threads), 23 (vsize) and 47 (start_brk).
  virtual Result<ImageFacts> Image() = 0;
  // lockedpages: VmLck of the caller's address space, in pages
  // (/proc/PID/status), and the mappings smaps marks locked. Read only for
  // locking calls under a finite lockedpages bound.
  virtual Result<uint64_t> LockedPages() { return Status::Error("VmLck not readable"); }
  virtual Result<std::vector<AddressRange>> LockedRanges() {
    return Status::Error("smaps not readable");
  }
};

// Facts about the whole container.
struct MembersSample {
  uint64_t data_pages = 0;  // sum over distinct address spaces
  uint64_t processes = 0;
  // Writable shared anonymous objects the members map, each once
  // (core/memory_map.h); 0 unless the reader was asked to count them.
  uint64_t shared_anon_pages = 0;
  // statm data of each member process, sorted by tgid (processes sharing an
  // address space each show the shared value). A flat vector, refilled in
  // place on every exact decision: its capacity is kept.
  std::vector<std::pair<int, uint64_t>> data_pages_by_tgid;
  // Advanced by the reader whenever the member set may have changed (a
  // listing, an exit); what is remembered of gone processes is pruned then.
  uint64_t generation = 0;
  // The entry of `tgid`, or null when the sample does not list it.
  const uint64_t* DataPagesOf(int tgid) const {
    auto it = std::lower_bound(data_pages_by_tgid.begin(), data_pages_by_tgid.end(),
                               std::make_pair(tgid, uint64_t{0}));
    return it != data_pages_by_tgid.end() && it->first == tgid ? &it->second : nullptr;
  }
};

// Where a thread is relative to a call it was admitted for.
enum class CallProgress {
  kInside,   // blocked inside that very call: not counted by the kernel yet
  kDone,     // gone, or blocked in another call: the kernel's counters have it
  kUnknown,  // on a CPU (/proc shows "running"): could be either
};

// SysV shared memory of a container's IPC namespace as the kernel counts it
// (shmctl(SHM_INFO): shm_tot and used_ids): the truth of shmpages held.
struct ShmUsage {
  uint64_t pages = 0;     // sum of the segments' sizes in pages, attached or not
  uint64_t segments = 0;  // segments in the namespace (marked for removal included)
  // The segments locked with shmctl(SHM_LOCK) (SHM_LOCKED in their mode), in
  // pages of their size: lockedpages held beside the processes' VmLck.
  uint64_t locked_pages = 0;
};

// One segment of a container's IPC namespace, by its shmid (shmctl IPC_STAT).
struct ShmSegment {
  bool exists = false;  // false: no segment with that id (the call fails EINVAL)
  uint64_t pages = 0;   // its size in pages
  bool locked = false;  // SHM_LOCKED already: SHM_LOCK charges nothing new
};

class ShmReader {
 public:
  virtual ~ShmReader() = default;
  virtual Result<ShmUsage> Usage() = 0;
  virtual Result<ShmSegment> Segment(int /*shmid*/) {
    return Status::Error("segment lookup not supported");
  }
};

class MemberReader {
 public:
  virtual ~MemberReader() = default;
  // Fills *out (reusing its storage: exact decisions allocate nothing).
  virtual Status Sample(MembersSample* out) = 0;
  virtual CallProgress Progress(int tid, int nr, const std::array<uint64_t, 6>& args) = 0;
  // Thread-group id of a thread, or -1 when it is gone.
  virtual int ThreadGroupOf(int tid) = 0;
  // A new process may have appeared (a fork was admitted or completed): the
  // next Sample() must include it. `forker_tid` is the thread that forked,
  // whose children the new process is among; -1 when it may be elsewhere
  // (CLONE_PARENT makes it the forker's sibling): then the members are
  // listed afresh.
  virtual void ExpectNewProcess(int forker_tid) = 0;
  // True only when it is certain that thread `tid` has no child left: every
  // process it forked has exited and been reaped (its pages are released).
  // False when it has one, or when that cannot be told cheaply and surely.
  virtual bool ChildrenReaped(int tid) = 0;
  // From now on Sample() also fills shared_anon_pages (the openvz profile
  // holds those objects in privvmpages): one maps read per address space.
  virtual void CountSharedAnonymous() {}
  // The SysV shared memory of the container's IPC namespace (shmpages held);
  // an error where the namespace cannot be read (then shmget is undecidable).
  virtual Result<ShmUsage> SharedMemory() {
    return Status::Error("the container's IPC namespace is not readable");
  }
  // lockedpages held by the kernel: VmLck (/proc/PID/status) summed over the
  // container's distinct address spaces, in pages. Read only when a locking
  // call is decided or a report asks, never on the privvmpages path.
  virtual Result<uint64_t> LockedPages() { return Status::Error("locked memory is not readable"); }
  // numproc where ubcd counts it: num_threads (/proc/PID/stat) summed over
  // the members listed by the last Sample(). Read only for task creations
  // under a numproc limit ubcd enforces itself.
  virtual Result<uint64_t> Tasks() { return Status::Error("tasks are not readable"); }
  // The SysV segment `shmid` of the container's IPC namespace.
  virtual Result<ShmSegment> SharedSegment(int /*shmid*/) {
    return Status::Error("the container's IPC namespace is not readable");
  }
  // The container is gone: drop anything kept open for it.
  virtual void ReleaseAll() {}
};

}  // namespace ubc
