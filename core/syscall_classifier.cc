#include "core/syscall_classifier.h"

#include <sched.h>
#include <sys/mman.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/units.h"

namespace ubc {
namespace {

// The values are the x86-64 Linux ABI of the traced process, not whatever the
// build host's headers say; the host headers are only used to cross-check.
constexpr uint64_t kProtRead = 0x1;
constexpr uint64_t kProtWrite = 0x2;
constexpr uint64_t kProtExec = 0x4;
constexpr uint64_t kProtSem = 0x8;
constexpr uint64_t kProtGrowsDown = 0x01000000;
constexpr uint64_t kProtGrowsUp = 0x02000000;

constexpr uint64_t kMapShared = 0x01;
constexpr uint64_t kMapPrivate = 0x02;
constexpr uint64_t kMapSharedValidate = 0x03;
constexpr uint64_t kMapDroppable = 0x08;
constexpr uint64_t kMapTypeMask = 0x0f;
constexpr uint64_t kMapFixed = 0x10;
constexpr uint64_t kMapAnonymous = 0x20;
constexpr uint64_t kMapGrowsDown = 0x0100;
constexpr uint64_t kMapHugetlb = 0x40000;
constexpr uint64_t kMapFixedNoReplace = 0x100000;
constexpr uint64_t kMapLocked = 0x2000;

constexpr uint64_t kMlockOnfault = 1;
constexpr int32_t kShmLock = 11;
constexpr uint64_t kIpc64 = 0x100;

constexpr uint64_t kMremapMayMove = 1;
constexpr uint64_t kMremapFixed = 2;
constexpr uint64_t kMremapDontUnmap = 4;
constexpr uint64_t kMremapKnownFlags = kMremapMayMove | kMremapFixed | kMremapDontUnmap;

constexpr int32_t kIpcPrivate = 0;
constexpr uint32_t kIpcCreat = 01000;

constexpr uint64_t kCloneVm = 0x100;
constexpr uint64_t kCloneParent = 0x8000;

// x86-64 user space ends below 2^47 (4-level paging); a longer mapping can
// never be placed, and the kernel fails it with ENOMEM before charging.
constexpr uint64_t kUserAddressSpacePages = (uint64_t{1} << 47) / kPageBytes;

#ifdef PROT_WRITE
static_assert(PROT_READ == kProtRead && PROT_WRITE == kProtWrite && PROT_EXEC == kProtExec);
#endif
#ifdef MAP_ANONYMOUS
static_assert(MAP_SHARED == kMapShared && MAP_PRIVATE == kMapPrivate && MAP_FIXED == kMapFixed &&
              MAP_ANONYMOUS == kMapAnonymous);
#endif
#ifdef MAP_SHARED_VALIDATE
static_assert(MAP_SHARED_VALIDATE == kMapSharedValidate);
#endif
#ifdef MAP_HUGETLB
static_assert(MAP_HUGETLB == kMapHugetlb);
#endif
#ifdef MAP_LOCKED
static_assert(MAP_LOCKED == kMapLocked);
#endif
#ifdef MCL_FUTURE
static_assert(MCL_CURRENT == kMclCurrent && MCL_FUTURE == kMclFuture);
#endif
#ifdef MCL_ONFAULT
static_assert(MCL_ONFAULT == kMclOnfault);
#endif
#ifdef MAP_FIXED_NOREPLACE
static_assert(MAP_FIXED_NOREPLACE == kMapFixedNoReplace);
#endif
#ifdef MREMAP_MAYMOVE
static_assert(MREMAP_MAYMOVE == kMremapMayMove && MREMAP_FIXED == kMremapFixed);
#endif
#ifdef MREMAP_DONTUNMAP
static_assert(MREMAP_DONTUNMAP == kMremapDontUnmap);
#endif
#ifdef CLONE_VM
static_assert(CLONE_VM == kCloneVm);
#endif

bool PageAligned(uint64_t addr) { return addr % kPageBytes == 0; }

// Classifies an x86-64 call into `call`, in place (see ClassifySyscall).
void ClassifyInto(ClassifiedCall& call, int nr, const std::array<uint64_t, 6>& args);

void ClassifyMmap(const std::array<uint64_t, 6>& args, ClassifiedCall* call) {
  const uint64_t addr = args[0], len = args[1], prot = args[2], flags = args[3], off = args[5];
  call->addr = addr;
  call->length_bytes = len;
  call->kind = CallKind::kInvalid;
  if (!PageAligned(off)) return;  // arch/x86 sys_mmap: EINVAL before anything else
  if (len == 0) return;           // EINVAL
  if (PagesForBytes(len) > kUserAddressSpacePages) return;  // ENOMEM
  // An exact address that is not page aligned fails in get_unmapped_area (EINVAL).
  if ((flags & (kMapFixed | kMapFixedNoReplace)) != 0 && !PageAligned(addr)) return;

  // do_mmap's two switches on MAP_TYPE: one for files, one for anonymous
  // memory. MAP_ANONYMOUS|MAP_HUGETLB is backed by a hugetlbfs file, so it
  // takes the file path.
  const bool anonymous = (flags & kMapAnonymous) != 0;
  const bool file_backed = !anonymous || (flags & kMapHugetlb) != 0;
  bool shared = false;
  switch (flags & kMapTypeMask) {
    case kMapShared:
      shared = true;
      break;
    case kMapSharedValidate:
      if (!file_backed) return;  // anonymous: default case, EINVAL
      shared = true;
      break;
    case kMapPrivate:
      break;
    case kMapDroppable:
      // Linux >= 6.11: anonymous, private, writable, counted in data_vm like
      // any private mapping. Older kernels reject it (EINVAL); charging it
      // there costs at most a spurious refusal, never an escape.
      if (file_backed) return;  // EINVAL
      break;
    default:
      return;  // EINVAL
  }
  // Only MAP_FIXED replaces existing mappings; MAP_FIXED_NOREPLACE fails with
  // EEXIST instead, so nothing is released first.
  call->fixed = (flags & kMapFixed) != 0;
  call->map_locked = (flags & kMapLocked) != 0;
  // MAP_NORESERVE is deliberately ignored: such mappings are charged too.
  if ((prot & kProtWrite) == 0) {
    // A MAP_GROWSDOWN mapping is a stack: statm data counts it (stack_vm)
    // even read-only, and one PROT_GROWSDOWN mprotect makes it writable
    // whole, so it is charged like a writable one.
    call->kind = (flags & kMapGrowsDown) != 0 && !shared ? CallKind::kMmapPrivateWritable
                                                         : CallKind::kMmapUncharged;
  } else if (!shared) {
    call->kind = CallKind::kMmapPrivateWritable;
  } else if (anonymous && !file_backed) {
    call->kind = CallKind::kMmapSharedAnonWritable;
  } else {
    call->kind = CallKind::kMmapUncharged;  // MAP_SHARED file (hugetlbfs included)
  }
}

// do_mlock(): the range is page-rounded outward; a wrapping end is EINVAL,
// an empty range a no-op.
void ClassifyMlock(const std::array<uint64_t, 6>& args, uint64_t flags, ClassifiedCall* call) {
  const uint64_t start = args[0] & ~(kPageBytes - 1);
  const uint64_t in_page = args[0] - start;
  call->kind = CallKind::kInvalid;
  call->lock_flags = static_cast<uint32_t>(flags);
  if ((flags & ~kMlockOnfault) != 0) return;  // mlock2: EINVAL
  if (args[1] > UINT64_MAX - in_page - kPageBytes) return;
  const uint64_t len = PagesForBytes(args[1] + in_page) * kPageBytes;
  if (len > UINT64_MAX - start) return;  // EINVAL
  call->addr = start;
  call->length_bytes = len;
  call->kind = len == 0 ? CallKind::kNotMemory : CallKind::kMlock;
}

void ClassifyMprotect(const std::array<uint64_t, 6>& args, ClassifiedCall* call) {
  const uint64_t addr = args[0], len = args[1], prot = args[2];
  call->addr = addr;
  call->length_bytes = len;
  call->kind = CallKind::kInvalid;
  // x86 has no upward-growing mappings: PROT_GROWSUP is EINVAL further down.
  call->grows_down = (prot & kProtGrowsDown) != 0;
  // Same order of checks as do_mprotect_pkey().
  if ((prot & kProtGrowsDown) != 0 && (prot & kProtGrowsUp) != 0) return;  // EINVAL
  if (!PageAligned(addr)) return;                                          // EINVAL
  if (len == 0) {
    // The kernel returns 0 without touching anything: nothing to charge.
    call->kind = CallKind::kMprotectNoWrite;
    return;
  }
  // end = start + PAGE_ALIGN(len) must not wrap (ENOMEM).
  if (PagesForBytes(len) > (UINT64_MAX - addr) / kPageBytes) return;
  const uint64_t known =
      kProtRead | kProtWrite | kProtExec | kProtSem | kProtGrowsDown | kProtGrowsUp;
  if ((prot & ~known) != 0) return;  // arch_validate_prot: EINVAL
  call->kind = (prot & kProtWrite) != 0 ? CallKind::kMprotectWrite : CallKind::kMprotectNoWrite;
}

void ClassifyMremap(const std::array<uint64_t, 6>& args, ClassifiedCall* call) {
  const uint64_t old_addr = args[0], old_len = args[1], new_len = args[2], flags = args[3];
  call->addr = old_addr;
  call->length_bytes = old_len;
  call->new_length_bytes = new_len;
  call->may_move = (flags & kMremapMayMove) != 0;
  call->fixed = (flags & kMremapFixed) != 0;
  call->dont_unmap = (flags & kMremapDontUnmap) != 0;
  call->kind = CallKind::kInvalid;
  if ((flags & ~kMremapKnownFlags) != 0) return;  // EINVAL
  // MREMAP_FIXED and MREMAP_DONTUNMAP both require MREMAP_MAYMOVE (EINVAL).
  if ((call->fixed || call->dont_unmap) && !call->may_move) return;
  if (!PageAligned(old_addr)) return;  // EINVAL
  if (new_len == 0) return;            // EINVAL (PAGE_ALIGN(new_len) == 0)
  call->kind = CallKind::kMremap;
}

uint64_t SaturatingSub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

ChargePlan PlanMremap(const ClassifiedCall& call, const RuleProfile& profile,
                      const ChargeContext& context) {
  ChargePlan plan;
  const uint64_t old_pages = PagesForBytes(call.length_bytes);
  const uint64_t new_pages = PagesForBytes(call.new_length_bytes);
  // A shrink only releases (unless DONTUNMAP keeps the old range mapped, and
  // then the new range is new memory on top).
  if (new_pages <= old_pages && !call.dont_unmap) return plan;
  // Growing a mapping that is not private-writable (shared, read-only) charges
  // nothing; without the facts, assume it is and plan an upper bound.
  if (context.range && context.range->private_writable_pages == 0) return plan;
  plan.check = profile.mremap_grow;
  plan.pages = SaturatingSub(new_pages, old_pages);
  if (call.dont_unmap) plan.pages = new_pages;
  if (profile.mremap_move_charges_new_length && (call.may_move || call.fixed)) {
    plan.pages = new_pages;
  }
  plan.exact = context.range.has_value();
  return plan;
}

ChargePlan PlanBrk(const ClassifiedCall& call, const RuleProfile& profile,
                   const ChargeContext& context) {
  ChargePlan plan;
  if (!context.current_brk) {
    // Growth cannot even be bounded without the current break (brk(2^46) from
    // a tiny heap and brk(cur + 1) look alike). Report a not-exact plan with
    // the check the growth would use; the caller must read the break
    // (HeapEnd of /proc/PID/maps) and plan again before admitting.
    plan.check = profile.brk_grow;
    plan.pages = 0;
    plan.exact = false;
    plan.refuse_with_old_break = true;
    return plan;
  }
  const uint64_t new_end = PageAlignUpPages(call.addr);
  const uint64_t old_end = PageAlignUpPages(*context.current_brk);
  if (new_end <= old_end) return plan;  // shrink or same page: never fails
  plan.check = profile.brk_grow;
  plan.pages = new_end - old_end;
  plan.refuse_with_old_break = true;
  return plan;
}

}  // namespace

const char* CallKindName(CallKind kind) {
  switch (kind) {
    case CallKind::kMmapPrivateWritable:
      return "mmap_private_writable";
    case CallKind::kMmapSharedAnonWritable:
      return "mmap_shared_anon_writable";
    case CallKind::kMmapUncharged:
      return "mmap_uncharged";
    case CallKind::kBrk:
      return "brk";
    case CallKind::kBrkQuery:
      return "brk_query";
    case CallKind::kMremap:
      return "mremap";
    case CallKind::kMprotectWrite:
      return "mprotect_write";
    case CallKind::kMprotectNoWrite:
      return "mprotect_no_write";
    case CallKind::kFork:
      return "fork";
    case CallKind::kThreadOrVfork:
      return "thread_or_vfork";
    case CallKind::kClone3:
      return "clone3";
    case CallKind::kMunmap:
      return "munmap";
    case CallKind::kExec:
      return "exec";
    case CallKind::kShmget:
      return "shmget";
    case CallKind::kMlock:
      return "mlock";
    case CallKind::kMlockall:
      return "mlockall";
    case CallKind::kMunlockall:
      return "munlockall";
    case CallKind::kShmLock:
      return "shm_lock";
    case CallKind::kRefusedAbi:
      return "refused_abi";
    case CallKind::kInvalid:
      return "invalid";
    case CallKind::kNotMemory:
      return "not_memory";
  }
  return "unknown";
}

const char* SyscallName(int nr) {
  switch (nr) {
    case x86_64_nr::kMmap:
      return "mmap";
    case x86_64_nr::kMprotect:
      return "mprotect";
    case x86_64_nr::kMunmap:
      return "munmap";
    case x86_64_nr::kBrk:
      return "brk";
    case x86_64_nr::kMremap:
      return "mremap";
    case x86_64_nr::kClone:
      return "clone";
    case x86_64_nr::kFork:
      return "fork";
    case x86_64_nr::kVfork:
      return "vfork";
    case x86_64_nr::kClone3:
      return "clone3";
    case x86_64_nr::kShmget:
      return "shmget";
    case x86_64_nr::kShmctl:
      return "shmctl";
    case x86_64_nr::kMlock:
      return "mlock";
    case x86_64_nr::kMunlock:
      return "munlock";
    case x86_64_nr::kMlockall:
      return "mlockall";
    case x86_64_nr::kMunlockall:
      return "munlockall";
    case x86_64_nr::kMlock2:
      return "mlock2";
    case x86_64_nr::kExecve:
      return "execve";
    case x86_64_nr::kExecveat:
      return "execveat";
    case x86_64_nr::kPkeyMprotect:
      return "pkey_mprotect";
    case x86_64_nr::kMapShadowStack:
      return "map_shadow_stack";
    default:
      break;
  }
  // Other numbers only reach logs; intern "syscall_<nr>" so the returned
  // pointer stays valid forever and callers on any thread may keep it. The set
  // is bounded by the syscalls the filter traps.
  static std::mutex mu;
  static std::map<int, std::unique_ptr<const std::string>> names;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = names[nr];
  if (!slot) slot = std::make_unique<const std::string>("syscall_" + std::to_string(nr));
  return slot->c_str();
}

const char* SyscallName(uint32_t arch, int nr) {
  const SyscallAbi abi = AbiOf(arch, nr);
  if (abi == SyscallAbi::kX86_64) return SyscallName(nr);
  // Interned like the unknown x86-64 numbers below: bounded by the trapped set.
  static std::mutex mu;
  static std::map<std::pair<uint32_t, int>, std::unique_ptr<const std::string>> names;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = names[{arch, nr}];
  if (!slot) {
    std::string name;
    if (abi == SyscallAbi::kI386 && nr == i386_nr::kOldMmap) {
      name = "old_mmap";
    } else if (abi == SyscallAbi::kI386 && nr == i386_nr::kMmap2) {
      name = "mmap2";
    } else if (abi == SyscallAbi::kI386 && nr == i386_nr::kIpc) {
      name = "ipc";
    } else {
      const int native = abi == SyscallAbi::kI386  ? NativeOfI386(nr)
                         : abi == SyscallAbi::kX32 ? NativeOfX32(nr)
                                                   : -1;
      name = native >= 0 ? SyscallName(native) : "syscall_" + std::to_string(nr);
    }
    slot = std::make_unique<const std::string>(name + "/" + AbiName(abi));
  }
  return slot->c_str();
}

ClassifiedCall ClassifyTrappedSyscall(uint32_t arch, int nr, const std::array<uint64_t, 6>& args) {
  if (arch == kAuditArchX86_64 && (nr & kX32SyscallBit) == 0) return ClassifySyscall(nr, args);
  ClassifiedCall call;
  const SyscallAbi abi = AbiOf(arch, nr);
  if (abi == SyscallAbi::kX32) {
    // x32 passes 64-bit registers like x86-64; only the numbers differ.
    const int native = NativeOfX32(nr);
    if (native >= 0) ClassifyInto(call, native, args);
  } else if (abi == SyscallAbi::kI386) {
    // The kernel takes the low 32 bits of each i386 register.
    std::array<uint64_t, 6> regs{};
    for (size_t k = 0; k < regs.size(); ++k) regs[k] = args[k] & 0xffffffffu;
    if (nr == i386_nr::kOldMmap) {
      call.kind = CallKind::kRefusedAbi;
    } else if (nr == i386_nr::kMmap2) {
      // mmap2's sixth argument counts pages: every offset is page aligned.
      regs[5] = 0;
      ClassifyInto(call, x86_64_nr::kMmap, regs);
    } else if (nr == i386_nr::kIpc) {
      // Only the low 16 bits name the call (ipc/syscall.c): a filter
      // comparing the whole register would miss SHMGET | version << 16.
      if ((regs[0] & 0xffff) == i386_nr::kIpcShmget) {
        ClassifyInto(call, x86_64_nr::kShmget, {regs[1], regs[2], regs[3], 0, 0, 0});
      } else if ((regs[0] & 0xffff) == i386_nr::kIpcShmctl) {
        // The old interface takes IPC_64 in cmd as a version (ipc_parse_version).
        ClassifyInto(call, x86_64_nr::kShmctl, {regs[1], regs[2] & ~kIpc64, 0, 0, 0, 0});
      }
    } else if (const int native = NativeOfI386(nr); native >= 0) {
      ClassifyInto(call, native, regs);
    }
  }
  call.nr = nr;
  call.abi = abi;
  return call;
}

// One named result, filled in place: copying a struct right after it was
// written field by field stalls on store forwarding (a fast decision's largest
// cost, measured), so no helper returns one.
ClassifiedCall ClassifySyscall(int nr, const std::array<uint64_t, 6>& args) {
  ClassifiedCall call;
  ClassifyInto(call, nr, args);
  return call;
}

namespace {

void ClassifyInto(ClassifiedCall& call, int nr, const std::array<uint64_t, 6>& args) {
  call.nr = nr;
  call.native_nr = nr;
  switch (nr) {
    case x86_64_nr::kMmap:
      ClassifyMmap(args, &call);
      return;
    case x86_64_nr::kMprotect:
    case x86_64_nr::kPkeyMprotect:
      // pkey_mprotect is mprotect with a protection key (the fourth argument),
      // which changes nothing about what becomes writable.
      ClassifyMprotect(args, &call);
      return;
    case x86_64_nr::kMapShadowStack:
      // A new private mapping the CPU writes (VM_WRITE, counted in data_vm),
      // placed with MAP_FIXED_NOREPLACE when an address is given: never
      // replaces anything. Only where user shadow stacks are enabled.
      call.addr = args[0];
      call.length_bytes = args[1];
      call.kind = args[1] == 0 || PagesForBytes(args[1]) > kUserAddressSpacePages
                      ? CallKind::kInvalid
                      : CallKind::kMmapPrivateWritable;
      return;
    case x86_64_nr::kMremap:
      ClassifyMremap(args, &call);
      return;
    case x86_64_nr::kBrk:
      call.addr = args[0];
      call.kind = args[0] == 0 ? CallKind::kBrkQuery : CallKind::kBrk;
      return;
    case x86_64_nr::kMunmap:
      call.addr = args[0];
      call.length_bytes = args[1];
      call.kind = CallKind::kMunmap;
      return;
    case x86_64_nr::kClone:
      // CLONE_VM shares the address space (threads, posix_spawn's vfork-style
      // clone): nothing new to charge. CLONE_VFORK alone still copies the mm.
      call.kind = (args[0] & kCloneVm) != 0 ? CallKind::kThreadOrVfork : CallKind::kFork;
      call.sibling = (args[0] & kCloneParent) != 0;
      return;
    case x86_64_nr::kFork:
      call.kind = CallKind::kFork;
      return;
    case x86_64_nr::kVfork:
      call.kind = CallKind::kThreadOrVfork;
      return;
    case x86_64_nr::kClone3:
      call.kind = CallKind::kClone3;
      return;
    case x86_64_nr::kShmget: {
      // key_t and shmflg are ints; size is a size_t (32 bits on i386, where
      // the registers were cut already).
      const int32_t key = static_cast<int32_t>(args[0]);
      call.addr = static_cast<uint32_t>(key);
      call.length_bytes = args[1];
      call.shm_flags = static_cast<uint32_t>(args[2]);
      // Without IPC_CREAT a named key only opens what exists: nothing new.
      if (key == kIpcPrivate || (call.shm_flags & kIpcCreat) != 0) call.kind = CallKind::kShmget;
      return;
    }
    case x86_64_nr::kExecve:
    case x86_64_nr::kExecveat:
      call.kind = CallKind::kExec;
      return;
    case x86_64_nr::kMlock:
      ClassifyMlock(args, 0, &call);
      return;
    case x86_64_nr::kMlock2:
      ClassifyMlock(args, args[2] & 0xffffffffu, &call);
      return;
    case x86_64_nr::kMlockall: {
      // apply_mlockall_flags' checks: some flag, only known ones, and
      // MCL_ONFAULT never alone.
      const uint64_t flags = args[0] & 0xffffffffu;
      call.lock_flags = static_cast<uint32_t>(flags);
      const bool valid = flags != 0 &&
                         (flags & ~uint64_t{kMclCurrent | kMclFuture | kMclOnfault}) == 0 &&
                         flags != kMclOnfault;
      call.kind = valid ? CallKind::kMlockall : CallKind::kInvalid;
      return;
    }
    case x86_64_nr::kMunlockall:
      call.kind = CallKind::kMunlockall;
      return;
    case x86_64_nr::kShmctl: {
      // shmid and cmd are ints; only SHM_LOCK of a valid id charges.
      const int32_t shmid = static_cast<int32_t>(args[0]);
      call.addr = static_cast<uint32_t>(shmid);
      if (static_cast<int32_t>(args[1]) == kShmLock && shmid >= 0) call.kind = CallKind::kShmLock;
      return;
    }
    default:
      call.kind = CallKind::kNotMemory;
      return;
  }
}

}  // namespace

ChargePlan PlanCharge(const ClassifiedCall& call, const RuleProfile& profile,
                      const ChargeContext& context) {
  ChargePlan plan;
  switch (call.kind) {
    case CallKind::kMmapPrivateWritable:
    case CallKind::kMmapSharedAnonWritable: {
      const bool shared = call.kind == CallKind::kMmapSharedAnonWritable;
      plan.check = shared ? profile.mmap_shared_anon : profile.mmap_private_writable;
      plan.pages = PagesForBytes(call.length_bytes);
      if (shared) {
        plan.persistent = profile.shared_anon_stays_charged;
        plan.grows_caller_data = false;  // shmem is not in statm data
      }
      if (call.fixed) {
        // mmap_region unmaps the old range before charging, so its private
        // writable part is released first. Without the facts the full length
        // is an upper bound.
        if (context.range) {
          plan.pages = SaturatingSub(plan.pages, context.range->private_writable_pages);
        } else {
          plan.exact = false;
        }
      }
      return plan;
    }
    case CallKind::kBrk:
      return PlanBrk(call, profile, context);
    case CallKind::kMremap:
      return PlanMremap(call, profile, context);
    case CallKind::kMprotectWrite:
      plan.check = profile.mprotect_add_write;
      if (context.range) {
        // Only private pages not yet writable become newly private-writable;
        // shared pages stay free. For PROT_GROWSDOWN the range must be the
        // one the kernel changes (from the mapping's start).
        plan.pages =
            SaturatingSub(context.range->private_pages, context.range->private_writable_pages);
      } else {
        plan.pages = PagesForBytes(call.length_bytes);
        plan.exact = false;
        plan.must_resolve_range = call.grows_down;
      }
      return plan;
    case CallKind::kFork:
      plan.check = profile.fork;
      plan.grows_caller_data = false;  // the child's address space holds it
      if (context.parent_private_pages) {
        plan.pages = *context.parent_private_pages;
      } else {
        plan.exact = false;  // no upper bound without the parent's statm
      }
      return plan;
    case CallKind::kMmapUncharged:
    case CallKind::kBrkQuery:
    case CallKind::kMprotectNoWrite:
    case CallKind::kThreadOrVfork:
    case CallKind::kClone3:
    case CallKind::kMunmap:
    case CallKind::kExec:
    case CallKind::kShmget:  // shmpages: ShmCounter (core/shm_counter.h)
    case CallKind::kMlock:   // lockedpages: LockedCounter (core/locked_counter.h)
    case CallKind::kMlockall:
    case CallKind::kMunlockall:
    case CallKind::kShmLock:
    case CallKind::kRefusedAbi:
    case CallKind::kInvalid:
    case CallKind::kNotMemory:
      return plan;
  }
  return plan;
}

}  // namespace ubc
