#include "core/syscall_abi.h"

namespace ubc {

SyscallAbi AbiOf(uint32_t arch, int nr) {
  if (arch == kAuditArchX86_64) {
    return (nr & kX32SyscallBit) != 0 ? SyscallAbi::kX32 : SyscallAbi::kX86_64;
  }
  if (arch == kAuditArchI386) return SyscallAbi::kI386;
  return SyscallAbi::kUnknown;
}

const char* AbiName(SyscallAbi abi) {
  switch (abi) {
    case SyscallAbi::kX86_64:
      return "x86_64";
    case SyscallAbi::kI386:
      return "i386";
    case SyscallAbi::kX32:
      return "x32";
    case SyscallAbi::kUnknown:
      break;
  }
  return "unknown";
}

bool IsSysinfo(uint32_t arch, int nr) {
  switch (AbiOf(arch, nr)) {
    case SyscallAbi::kX86_64:
      return nr == x86_64_nr::kSysinfo;
    case SyscallAbi::kX32:
      return (nr & ~kX32SyscallBit) == x86_64_nr::kSysinfo;
    case SyscallAbi::kI386:
      return nr == i386_nr::kSysinfo;
    case SyscallAbi::kUnknown:
      break;
  }
  return false;
}

int NativeOfI386(int nr) {
  switch (nr) {
    case i386_nr::kFork:
      return x86_64_nr::kFork;
    case i386_nr::kExecve:
      return x86_64_nr::kExecve;
    case i386_nr::kBrk:
      return x86_64_nr::kBrk;
    case i386_nr::kMunmap:
      return x86_64_nr::kMunmap;
    case i386_nr::kClone:
      return x86_64_nr::kClone;
    case i386_nr::kMprotect:
      return x86_64_nr::kMprotect;
    case i386_nr::kMremap:
      return x86_64_nr::kMremap;
    case i386_nr::kVfork:
      return x86_64_nr::kVfork;
    case i386_nr::kMmap2:
      return x86_64_nr::kMmap;
    case i386_nr::kExecveat:
      return x86_64_nr::kExecveat;
    case i386_nr::kPkeyMprotect:
      return x86_64_nr::kPkeyMprotect;
    case i386_nr::kClone3:
      return x86_64_nr::kClone3;
    case i386_nr::kShmget:
      return x86_64_nr::kShmget;
    case i386_nr::kShmctl:
      return x86_64_nr::kShmctl;
    case i386_nr::kMlock:
      return x86_64_nr::kMlock;
    case i386_nr::kMunlock:
      return x86_64_nr::kMunlock;
    case i386_nr::kMlockall:
      return x86_64_nr::kMlockall;
    case i386_nr::kMunlockall:
      return x86_64_nr::kMunlockall;
    case i386_nr::kMlock2:
      return x86_64_nr::kMlock2;
    default:
      return -1;
  }
}

int NativeOfX32(int nr) {
  const int n = nr & ~kX32SyscallBit;
  switch (n) {
    case x32_nr::kExecve:
      return x86_64_nr::kExecve;
    case x32_nr::kExecveat:
      return x86_64_nr::kExecveat;
    case x86_64_nr::kExecve:
    case x86_64_nr::kExecveat:
      return -1;
    default:
      return n;
  }
}

}  // namespace ubc
