// Syscall classifier: which accounting case a trapped call is, in each ABI an
// x86-64 kernel accepts (x86-64, i386 through `int $0x80` or sysenter, x32).
//
// Turns an audit architecture, a syscall number and its six register
// arguments (as the kernel captured them in the seccomp notification) into a
// ClassifiedCall, and plans
// the privvmpages charge for it under a RuleProfile. Everything here is pure:
// facts that need /proc (the current break, the private part of a range, the
// parent's private size) come in through ChargeContext, and a plan made
// without range facts is an upper bound. Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "core/beancounter.h"
#include "core/rule_profile.h"
#include "core/syscall_abi.h"

namespace ubc {

enum class CallKind {
  kMmapPrivateWritable,     // PROT_WRITE and (MAP_PRIVATE or anonymous), not shared anon
  kMmapSharedAnonWritable,  // MAP_SHARED|MAP_ANONYMOUS with PROT_WRITE
  kMmapUncharged,           // read-only, PROT_NONE, MAP_SHARED file
  kBrk,                     // brk(addr != 0): grow or shrink against the current break
  kBrkQuery,                // brk(0)
  kMremap,                  // grow, shrink or move
  kMprotectWrite,           // prot includes PROT_WRITE
  kMprotectNoWrite,         // removing write never charges
  kFork,                    // fork, clone without CLONE_VM
  kThreadOrVfork,           // clone with CLONE_VM, vfork: no new address space
  kClone3,                  // flags live in user memory; see docs/accounting.md
  kMunmap,                  // releases only
  kExec,                    // execve, execveat: never charged; the image is replaced
                            // unasked, so what ubcd remembers of the caller is stale
  kShmget,                  // SysV shmget that may create a segment (IPC_PRIVATE or
                            // IPC_CREAT): shmpages, never privvmpages here
  // lockedpages (core/locked_counter.h): never privvmpages charges here.
  kMlock,       // mlock, mlock2: [addr, addr + length) page-rounded, lock_flags mlock2's
  kMlockall,    // lock_flags MCL_*: CURRENT locks what is mapped, FUTURE what comes
  kMunlockall,  // releases, and ends MCL_FUTURE
  kShmLock,     // shmctl(shmid, SHM_LOCK): the segment's size (shmid in addr)
  kRefusedAbi,  // i386 old_mmap: its arguments are in user memory, which
                // another thread may change after ubcd read them; refused
  kInvalid,     // arguments the kernel rejects before mapping anything (EINVAL,
                // or ENOMEM for lengths beyond the user address space)
  kNotMemory,   // any other syscall
};

const char* CallKindName(CallKind kind);
// The syscall's name for logs ("mmap", "clone", ...), or "syscall_<nr>"; an
// i386 or x32 call's name carries its ABI ("mmap2/i386"). The pointer stays
// valid for the life of the process.
const char* SyscallName(int nr);  // x86-64
const char* SyscallName(uint32_t arch, int nr);

struct ClassifiedCall {
  int nr = -1;         // as trapped, in its own ABI
  int native_nr = -1;  // the x86-64 call with the same effect (mmap2 -> mmap), -1 if none
  SyscallAbi abi = SyscallAbi::kX86_64;
  CallKind kind = CallKind::kNotMemory;
  uint64_t addr = 0;  // mmap hint/fixed address, mprotect/mremap start, brk new break, shmget key
  uint64_t length_bytes = 0;      // mmap/mprotect length, mremap old length, shmget size
  uint64_t new_length_bytes = 0;  // mremap new length
  bool fixed = false;             // MAP_FIXED (replaces) or MREMAP_FIXED
  bool may_move = false;          // MREMAP_MAYMOVE
  bool dont_unmap = false;        // MREMAP_DONTUNMAP: the old range stays mapped
  bool sibling = false;           // clone CLONE_PARENT: the child is the caller's sibling
  // mprotect PROT_GROWSDOWN: the kernel extends the range down to the start
  // of the mapping containing `addr`, so `length_bytes` is no bound at all.
  bool grows_down = false;
  uint32_t shm_flags = 0;   // shmget's shmflg
  uint32_t lock_flags = 0;  // mlock2's MLOCK_*, mlockall's MCL_*
  bool map_locked = false;  // mmap MAP_LOCKED: lockedpages as well
};

// mlockall's flags (x86-64 values).
inline constexpr uint32_t kMclCurrent = 1;
inline constexpr uint32_t kMclFuture = 2;
inline constexpr uint32_t kMclOnfault = 4;

// An x86-64 call.
ClassifiedCall ClassifySyscall(int nr, const std::array<uint64_t, 6>& args);
// A call of any ABI: i386 registers are 32 bits wide (their upper halves are
// ignored, as the kernel does), mmap2's offset is in pages; an unknown
// architecture classifies as kNotMemory with abi kUnknown.
ClassifiedCall ClassifyTrappedSyscall(uint32_t arch, int nr, const std::array<uint64_t, 6>& args);

// What /proc/PID/maps says about the range a call touches.
struct RangeFacts {
  uint64_t private_writable_pages = 0;  // already counted in privvmpages
  uint64_t private_pages = 0;           // MAP_PRIVATE pages, writable or not
  uint64_t mapped_pages = 0;            // any mapping
};

struct ChargeContext {
  std::optional<RangeFacts> range;               // for MAP_FIXED, mprotect, mremap (old range)
  std::optional<uint64_t> current_brk;           // for brk; required for an exact brk plan
  std::optional<uint64_t> parent_private_pages;  // for fork: statm data of the caller
};

struct ChargePlan {
  ChargeCheck check = ChargeCheck::kNone;  // kNone: nothing to charge, always admitted
  uint64_t pages = 0;
  // False when a fact the exact amount depends on was missing and `pages` is an
  // upper bound; the supervisor resolves the range when the answer matters.
  bool exact = true;
  // True when the charge lasts after the call (a reservation until the kernel's
  // counters show it); false for bc2006's transient shared-anon check.
  bool persistent = true;
  // brk: refusal returns the old break instead of an errno.
  bool refuse_with_old_break = false;
  // `pages` is no upper bound until the range is read (PROT_GROWSDOWN): never
  // admit this plan on an estimate.
  bool must_resolve_range = false;
  // The charge appears in the caller's own statm data once the call completes
  // (mmap private, brk, mremap, mprotect); a fork's shows up in the child, a
  // shared anonymous mapping's nowhere in statm.
  bool grows_caller_data = true;
};

// Missing facts: MAP_FIXED and mprotect plan the full length and mremap the
// growth as if the range were private-writable (exact = false, an upper
// bound); a PROT_GROWSDOWN mprotect has no upper bound without the range
// (exact = false, must_resolve_range = true). brk without current_brk cannot be bounded at all: the
// plan is {check = profile.brk_grow, pages = 0, exact = false, refuse_with_old_break} and the
// caller must read the break (HeapEnd) and plan again before admitting. fork without
// parent_private_pages: pages = 0, exact = false. mprotect with length 0 is a no-op in the kernel
// and classifies as kMprotectNoWrite.
ChargePlan PlanCharge(const ClassifiedCall& call, const RuleProfile& profile,
                      const ChargeContext& context);

}  // namespace ubc
