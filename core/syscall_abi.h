// Syscall ABIs: the three ways an x86-64 kernel takes a system call (x86-64,
// i386 through `int $0x80` or sysenter, x32), told apart by the audit
// architecture and number seccomp reports, and the numbers of the memory
// calls in each (arch/x86/entry/syscalls/syscall_{64,32}.tbl). Each i386 or
// x32 memory call maps to the x86-64 call with the same effect, which the
// classifier then reads with its own register layout. Pure; thread-safe.
#pragma once

#include <cstdint>

namespace ubc {

// The audit architectures seccomp reports on an x86-64 kernel. x32 calls come
// as kAuditArchX86_64 with kX32SyscallBit set in the number.
inline constexpr uint32_t kAuditArchX86_64 = 0xC000003E;
inline constexpr uint32_t kAuditArchI386 = 0x40000003;
inline constexpr int kX32SyscallBit = 0x40000000;

enum class SyscallAbi : uint8_t { kX86_64, kI386, kX32, kUnknown };
SyscallAbi AbiOf(uint32_t arch, int nr);
const char* AbiName(SyscallAbi abi);  // "x86_64", "i386", "x32", "unknown"

// x86-64 syscall numbers of the memory calls (x32 shares them, with
// kX32SyscallBit, except where x32_nr says otherwise).
namespace x86_64_nr {
inline constexpr int kMmap = 9;
inline constexpr int kMprotect = 10;
inline constexpr int kMunmap = 11;
inline constexpr int kBrk = 12;
inline constexpr int kMremap = 25;
inline constexpr int kShmget = 29;   // shmpages, not privvmpages
inline constexpr int kSysinfo = 99;  // answered by ubcd with the container's memory
inline constexpr int kShmctl = 31;   // SHM_LOCK: lockedpages
inline constexpr int kMlock = 149;
inline constexpr int kMunlock = 150;
inline constexpr int kMlockall = 151;
inline constexpr int kMunlockall = 152;
inline constexpr int kMlock2 = 325;
inline constexpr int kClone = 56;
inline constexpr int kFork = 57;
inline constexpr int kVfork = 58;
inline constexpr int kExecve = 59;
inline constexpr int kExecveat = 322;
inline constexpr int kPkeyMprotect = 329;
inline constexpr int kClone3 = 435;
inline constexpr int kMapShadowStack = 453;
}  // namespace x86_64_nr

// x32's own numbers (without kX32SyscallBit) where they differ from x86-64's.
namespace x32_nr {
inline constexpr int kExecve = 520;
inline constexpr int kExecveat = 545;
}  // namespace x32_nr

// i386 numbers of the memory calls (arch/x86/entry/syscalls/syscall_32.tbl).
namespace i386_nr {
inline constexpr int kFork = 2;
inline constexpr int kExecve = 11;
inline constexpr int kBrk = 45;
inline constexpr int kOldMmap = 90;  // one argument: a pointer to the six in user memory
inline constexpr int kMunmap = 91;
// The SysV IPC multiplexer: the call is the low 16 bits of the first argument
// (the high 16 are a version the kernel ignores), its arguments follow.
inline constexpr int kIpc = 117;
inline constexpr int kIpcShmget = 23;  // ipc(SHMGET, key, size, shmflg)
inline constexpr int kIpcShmctl = 24;  // ipc(SHMCTL, shmid, cmd | IPC_64, 0, buf)
inline constexpr int kClone = 120;
inline constexpr int kMprotect = 125;
inline constexpr int kMlock = 150;
inline constexpr int kMunlock = 151;
inline constexpr int kMlockall = 152;
inline constexpr int kMunlockall = 153;
inline constexpr int kMremap = 163;
inline constexpr int kVfork = 190;
inline constexpr int kMmap2 = 192;  // offset in pages
inline constexpr int kMlock2 = 376;
inline constexpr int kExecveat = 358;
inline constexpr int kPkeyMprotect = 380;
inline constexpr int kShmget = 395;
inline constexpr int kSysinfo = 116;
inline constexpr int kShmctl = 396;
inline constexpr int kClone3 = 435;
}  // namespace i386_nr

// Whether a trapped call is sysinfo(2) in any ABI (x32 shares x86-64's number).
bool IsSysinfo(uint32_t arch, int nr);

// The x86-64 call an i386 one has the same effect as, or -1 (not a memory
// call, i386 old_mmap, whose arguments are not in registers, or ipc, which is
// several calls).
int NativeOfI386(int nr);
// The same for an x32 number (with or without kX32SyscallBit): x32 shares
// x86-64's numbers for the memory calls, except execve and execveat, whose
// x86-64 numbers are ENOSYS there (-1).
int NativeOfX32(int nr);

}  // namespace ubc
