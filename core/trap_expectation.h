// Trap expectation (test-only): which calls the rules ubc-hook adds must hand
// to ubcd, written out from docs/ubc-semantics.md §2, §3 and §5 apart from the
// rule tables in core/seccomp_profile_merge.cc. The merge's unit test and its
// fuzzer check the merged profiles against this one statement. Header only; pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <set>
#include <string>

namespace ubc {

// The syscalls ubc traps: the memory calls, execve and execveat (never
// charged, so that ubcd learns of every image change), and clone3 (answered
// ENOSYS instead), shmget and i386's ipc multiplexer (shmpages), and mlock,
// mlock2, mlockall, munlockall and shmctl (lockedpages). vfork and munlock
// are not among them.
inline const std::set<std::string>& TrappedSyscallNames() {
  static const std::set<std::string> kNames = {
      "mmap",   "mmap2",    "mprotect",   "pkey_mprotect", "map_shadow_stack",
      "brk",    "mremap",   "clone",      "fork",          "clone3",
      "execve", "execveat", "shmget",     "ipc",           "mlock",
      "mlock2", "mlockall", "munlockall", "shmctl"};
  return kNames;
}

// Whether ubcd must see the call: the bit tests the notify cells use, so
// MAP_SHARED_VALIDATE (0x03) counts as private here and ubcd sorts it out.
inline bool MustNotify(const std::string& syscall, const std::array<uint64_t, 6>& args) {
  constexpr uint64_t kProtWrite = 0x2, kMapPrivate = 0x02, kMapAnonymous = 0x20, kCloneVm = 0x100;
  // mmap: also every call with an address in the upper half, which is every
  // i386 old_mmap once libseccomp drops the upper 32 bits.
  if (syscall == "mmap" && args[0] >= (uint64_t{1} << 63)) return true;
  if (syscall == "mmap" || syscall == "mmap2") {
    constexpr uint64_t kMapGrowsDown = 0x100, kMapLocked = 0x2000;
    if (args[3] & kMapLocked) return true;  // lockedpages, whatever the protection
    if (!(args[2] & kProtWrite)) return (args[3] & kMapGrowsDown) != 0;
    return (args[3] & kMapPrivate) || (args[3] & kMapAnonymous);
  }
  if (syscall == "mprotect" || syscall == "pkey_mprotect") return (args[2] & kProtWrite) != 0;
  if (syscall == "map_shadow_stack") return true;
  if (syscall == "brk") return args[0] != 0;
  if (syscall == "mremap" || syscall == "fork" || syscall == "execve" || syscall == "execveat" ||
      syscall == "shmget" || syscall == "ipc" || syscall == "mlock" || syscall == "mlock2" ||
      syscall == "mlockall" || syscall == "munlockall" || syscall == "shmctl") {
    return true;
  }
  if (syscall == "clone") return (args[0] & kCloneVm) == 0;
  return false;
}

}  // namespace ubc
