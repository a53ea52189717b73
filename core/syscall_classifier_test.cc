#include "core/syscall_classifier.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/rule_profile.h"
#include "core/units.h"

namespace ubc {
namespace {

namespace nr = x86_64_nr;

// x86-64 Linux ABI values, spelled out so the test does not depend on the
// host's headers.
constexpr uint64_t R = 0x1, W = 0x2, X = 0x4;
constexpr uint64_t kShared = 0x01, kPrivate = 0x02, kSharedValidate = 0x03, kDroppable = 0x08;
constexpr uint64_t kFixed = 0x10, kAnon = 0x20, kNoReserve = 0x4000, kHugetlb = 0x40000;
constexpr uint64_t kFixedNoReplace = 0x100000;
constexpr uint64_t kMayMove = 1, kMremapFixed = 2, kDontUnmap = 4;
constexpr uint64_t kCloneVm = 0x100, kCloneVfork = 0x4000, kSigchld = 17;
constexpr uint64_t kThreadFlags = 0x3d0f00;  // glibc pthread_create's clone flags
constexpr uint64_t kNoFd = UINT64_MAX;       // fd -1 as the register holds it

constexpr uint64_t P = kPageBytes;
constexpr uint64_t kAddr = 0x7f0000000000;
constexpr uint64_t kHeap = 0x555555560000;

constexpr ChargeCheck kNone = ChargeCheck::kNone;
constexpr ChargeCheck kBarrier = ChargeCheck::kBarrier;
constexpr ChargeCheck kLimit = ChargeCheck::kLimit;

using Args = std::array<uint64_t, 6>;

ChargePlan Plan(ChargeCheck check, uint64_t pages, bool exact = true, bool persistent = true,
                bool old_break = false) {
  ChargePlan p;
  p.check = check;
  p.pages = pages;
  p.exact = exact;
  p.persistent = persistent;
  p.refuse_with_old_break = old_break;
  return p;
}
ChargePlan Free() { return ChargePlan{}; }

ChargeContext NoFacts() { return ChargeContext{}; }
ChargeContext Range(uint64_t private_writable, uint64_t private_pages, uint64_t mapped) {
  ChargeContext c;
  c.range = RangeFacts{private_writable, private_pages, mapped};
  return c;
}
ChargeContext Brk(uint64_t current) {
  ChargeContext c;
  c.current_brk = current;
  return c;
}
ChargeContext Parent(uint64_t pages) {
  ChargeContext c;
  c.parent_private_pages = pages;
  return c;
}

Args Mmap(uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, uint64_t fd = kNoFd,
          uint64_t off = 0) {
  return {addr, len, prot, flags, fd, off};
}

struct Row {
  const char* what;
  int nr;
  Args args;
  ChargeContext context;
  CallKind kind;
  ChargePlan bc2006;
  ChargePlan openvz;
};

void PrintTo(const Row& row, std::ostream* os) { *os << row.what; }

void ExpectPlan(const ChargePlan& got, const ChargePlan& want, const char* profile) {
  SCOPED_TRACE(profile);
  EXPECT_EQ(ChargeCheckName(got.check), std::string(ChargeCheckName(want.check)));
  EXPECT_EQ(got.pages, want.pages);
  EXPECT_EQ(got.exact, want.exact);
  EXPECT_EQ(got.persistent, want.persistent);
  EXPECT_EQ(got.refuse_with_old_break, want.refuse_with_old_break);
}

class CallSiteTable : public testing::TestWithParam<Row> {};

TEST_P(CallSiteTable, ClassifyAndPlan) {
  const Row& row = GetParam();
  SCOPED_TRACE(row.what);
  const ClassifiedCall call = ClassifySyscall(row.nr, row.args);
  EXPECT_EQ(call.nr, row.nr);
  ASSERT_STREQ(CallKindName(call.kind), CallKindName(row.kind));
  ExpectPlan(PlanCharge(call, Bc2006Profile(), row.context), row.bc2006, "bc2006");
  ExpectPlan(PlanCharge(call, OpenvzProfile(), row.context), row.openvz, "openvz");
}

// One row (or a few) per line of the call-site table in docs/ubc-semantics.md §3,
// with the bc2006 and openvz columns side by side.
INSTANTIATE_TEST_SUITE_P(
    ReferenceTable, CallSiteTable,
    testing::Values(
        // mmap private writable (anon or file): + len, barrier | barrier
        Row{"mmap private writable anon", nr::kMmap, Mmap(0, 10 * P, R | W, kPrivate | kAnon),
            NoFacts(), CallKind::kMmapPrivateWritable, Plan(kBarrier, 10), Plan(kBarrier, 10)},
        Row{"mmap private writable file", nr::kMmap, Mmap(0, 10 * P, R | W, kPrivate, 3, 4 * P),
            NoFacts(), CallKind::kMmapPrivateWritable, Plan(kBarrier, 10), Plan(kBarrier, 10)},
        Row{"mmap private writable, length rounded up", nr::kMmap,
            Mmap(0, 10 * P + 1, W, kPrivate | kAnon), NoFacts(), CallKind::kMmapPrivateWritable,
            Plan(kBarrier, 11), Plan(kBarrier, 11)},
        // mmap MAP_FIXED over existing mappings: old private part released first
        Row{"mmap MAP_FIXED over 4 private-writable pages", nr::kMmap,
            Mmap(kAddr, 10 * P, R | W, kPrivate | kAnon | kFixed), Range(4, 6, 10),
            CallKind::kMmapPrivateWritable, Plan(kBarrier, 6), Plan(kBarrier, 6)},
        // mmap read-only / PROT_NONE / MAP_SHARED file: free
        Row{"mmap read-only private", nr::kMmap, Mmap(0, 10 * P, R, kPrivate | kAnon), NoFacts(),
            CallKind::kMmapUncharged, Free(), Free()},
        Row{"mmap PROT_NONE private", nr::kMmap, Mmap(0, 10 * P, 0, kPrivate | kAnon), NoFacts(),
            CallKind::kMmapUncharged, Free(), Free()},
        Row{"mmap read-exec private file", nr::kMmap, Mmap(0, 10 * P, R | X, kPrivate, 3),
            NoFacts(), CallKind::kMmapUncharged, Free(), Free()},
        Row{"mmap MAP_SHARED file writable", nr::kMmap, Mmap(0, 10 * P, R | W, kShared, 3),
            NoFacts(), CallKind::kMmapUncharged, Free(), Free()},
        // mmap MAP_SHARED|MAP_ANONYMOUS writable: bc2006 transient, openvz stays
        Row{"mmap shared anon writable", nr::kMmap, Mmap(0, 10 * P, R | W, kShared | kAnon),
            NoFacts(), CallKind::kMmapSharedAnonWritable,
            Plan(kBarrier, 10, true, /*persistent=*/false), Plan(kBarrier, 10)},
        // brk grow: + PAGE_ALIGN(new) - PAGE_ALIGN(old), refusal returns the old break
        Row{"brk grow by 3 pages from an unaligned break",
            nr::kBrk,
            {kHeap + 3 * P + 1},
            Brk(kHeap + 0x800),
            CallKind::kBrk,
            Plan(kBarrier, 3, true, true, true),
            Plan(kBarrier, 3, true, true, true)},
        // brk shrink, munmap, mremap shrink: never fail
        Row{"brk shrink", nr::kBrk, {kHeap}, Brk(kHeap + 8 * P), CallKind::kBrk, Free(), Free()},
        Row{"munmap", nr::kMunmap, {kAddr, 10 * P}, NoFacts(), CallKind::kMunmap, Free(), Free()},
        Row{"mremap shrink",
            nr::kMremap,
            {kAddr, 10 * P, 4 * P, 0},
            Range(10, 10, 10),
            CallKind::kMremap,
            Free(),
            Free()},
        // mremap grow in place: + (new - old)
        Row{"mremap grow in place",
            nr::kMremap,
            {kAddr, 4 * P, 10 * P, 0},
            Range(4, 4, 4),
            CallKind::kMremap,
            Plan(kBarrier, 6),
            Plan(kBarrier, 6)},
        // mremap move: bc2006 + (new - old); openvz + new_len up front
        Row{"mremap grow MAYMOVE",
            nr::kMremap,
            {kAddr, 4 * P, 10 * P, kMayMove},
            Range(4, 4, 4),
            CallKind::kMremap,
            Plan(kBarrier, 6),
            Plan(kBarrier, 10)},
        Row{"mremap grow MAYMOVE|FIXED",
            nr::kMremap,
            {kAddr, 4 * P, 10 * P, kMayMove | kMremapFixed, kAddr + 0x100000000},
            Range(4, 4, 4),
            CallKind::kMremap,
            Plan(kBarrier, 6),
            Plan(kBarrier, 10)},
        // mprotect adding PROT_WRITE: + pages that become private-writable; barrier | limit
        Row{"mprotect add write: 8 private of which 3 writable, 2 shared",
            nr::kMprotect,
            {kAddr, 10 * P, R | W},
            Range(3, 8, 10),
            CallKind::kMprotectWrite,
            Plan(kBarrier, 5),
            Plan(kLimit, 5)},
        // mprotect removing PROT_WRITE: never fails
        Row{"mprotect remove write",
            nr::kMprotect,
            {kAddr, 10 * P, R},
            Range(10, 10, 10),
            CallKind::kMprotectNoWrite,
            Free(),
            Free()},
        // fork / clone without CLONE_VM: + parent's private pages; limit | barrier
        Row{"fork",
            nr::kFork,
            {},
            Parent(1234),
            CallKind::kFork,
            Plan(kLimit, 1234),
            Plan(kBarrier, 1234)},
        Row{"clone(SIGCHLD) as glibc fork",
            nr::kClone,
            {kSigchld},
            Parent(1234),
            CallKind::kFork,
            Plan(kLimit, 1234),
            Plan(kBarrier, 1234)},
        // threads, vfork, clone with CLONE_VM: 0
        Row{"clone thread",
            nr::kClone,
            {kThreadFlags},
            Parent(1234),
            CallKind::kThreadOrVfork,
            Free(),
            Free()},
        Row{"vfork", nr::kVfork, {}, Parent(1234), CallKind::kThreadOrVfork, Free(), Free()},
        Row{"clone CLONE_VM|CLONE_VFORK (posix_spawn)",
            nr::kClone,
            {kCloneVm | kCloneVfork | kSigchld},
            Parent(1234),
            CallKind::kThreadOrVfork,
            Free(),
            Free()},
        // shmget is shmpages' (core/shm_counter.h), never a privvmpages
        // charge; opening a key without IPC_CREAT creates nothing. Stack
        // growth and exec mappings are not syscalls; exit only releases.
        Row{"shmget", 29, {0, 1 << 20, 01600}, NoFacts(), CallKind::kShmget, Free(), Free()},
        Row{"shmget IPC_CREAT",
            29,
            {77, 1 << 20, 01600},
            NoFacts(),
            CallKind::kShmget,
            Free(),
            Free()},
        Row{"shmget of an existing key",
            29,
            {77, 1 << 20, 0600},
            NoFacts(),
            CallKind::kNotMemory,
            Free(),
            Free()},
        Row{"exit_group", 231, {0}, NoFacts(), CallKind::kNotMemory, Free(), Free()}));

INSTANTIATE_TEST_SUITE_P(
    MmapEdges, CallSiteTable,
    testing::Values(
        Row{"MAP_SHARED_VALIDATE file writable", nr::kMmap,
            Mmap(0, 10 * P, R | W, kSharedValidate, 3), NoFacts(), CallKind::kMmapUncharged, Free(),
            Free()},
        Row{"MAP_SHARED_VALIDATE anonymous: EINVAL", nr::kMmap,
            Mmap(0, 10 * P, R | W, kSharedValidate | kAnon), NoFacts(), CallKind::kInvalid, Free(),
            Free()},
        Row{"MAP_SHARED_VALIDATE anonymous hugetlb: a hugetlbfs file", nr::kMmap,
            Mmap(0, 2 << 20, R | W, kSharedValidate | kAnon | kHugetlb), NoFacts(),
            CallKind::kMmapUncharged, Free(), Free()},
        Row{"MAP_SHARED anonymous hugetlb: not shmem", nr::kMmap,
            Mmap(0, 2 << 20, R | W, kShared | kAnon | kHugetlb), NoFacts(),
            CallKind::kMmapUncharged, Free(), Free()},
        Row{"MAP_PRIVATE anonymous hugetlb: private, charged", nr::kMmap,
            Mmap(0, 2 << 20, R | W, kPrivate | kAnon | kHugetlb), NoFacts(),
            CallKind::kMmapPrivateWritable, Plan(kBarrier, 512), Plan(kBarrier, 512)},
        Row{"MAP_NORESERVE is still charged", nr::kMmap,
            Mmap(0, 10 * P, R | W, kPrivate | kAnon | kNoReserve), NoFacts(),
            CallKind::kMmapPrivateWritable, Plan(kBarrier, 10), Plan(kBarrier, 10)},
        Row{"MAP_SHARED|MAP_ANONYMOUS read-only", nr::kMmap, Mmap(0, 10 * P, R, kShared | kAnon),
            NoFacts(), CallKind::kMmapUncharged, Free(), Free()},
        Row{"MAP_FIXED without range facts: full length, upper bound", nr::kMmap,
            Mmap(kAddr, 10 * P, R | W, kPrivate | kAnon | kFixed), NoFacts(),
            CallKind::kMmapPrivateWritable, Plan(kBarrier, 10, false), Plan(kBarrier, 10, false)},
        Row{"MAP_FIXED over a read-only private range: nothing released", nr::kMmap,
            Mmap(kAddr, 10 * P, R | W, kPrivate | kAnon | kFixed), Range(0, 10, 10),
            CallKind::kMmapPrivateWritable, Plan(kBarrier, 10), Plan(kBarrier, 10)},
        Row{"MAP_FIXED over a fully private-writable range: net 0", nr::kMmap,
            Mmap(kAddr, 10 * P, R | W, kPrivate | kAnon | kFixed), Range(10, 10, 10),
            CallKind::kMmapPrivateWritable, Plan(kBarrier, 0), Plan(kBarrier, 0)},
        Row{"MAP_FIXED shared anon over private pages", nr::kMmap,
            Mmap(kAddr, 10 * P, R | W, kShared | kAnon | kFixed), Range(4, 4, 4),
            CallKind::kMmapSharedAnonWritable, Plan(kBarrier, 6, true, false), Plan(kBarrier, 6)},
        Row{"MAP_FIXED shared anon without range facts", nr::kMmap,
            Mmap(kAddr, 10 * P, R | W, kShared | kAnon | kFixed), NoFacts(),
            CallKind::kMmapSharedAnonWritable, Plan(kBarrier, 10, false, false),
            Plan(kBarrier, 10, false)},
        Row{"MAP_FIXED_NOREPLACE replaces nothing: range ignored", nr::kMmap,
            Mmap(kAddr, 10 * P, R | W, kPrivate | kAnon | kFixedNoReplace), Range(4, 4, 4),
            CallKind::kMmapPrivateWritable, Plan(kBarrier, 10), Plan(kBarrier, 10)},
        Row{"MAP_FIXED unaligned address: EINVAL", nr::kMmap,
            Mmap(kAddr + 1, 10 * P, R | W, kPrivate | kAnon | kFixed), NoFacts(),
            CallKind::kInvalid, Free(), Free()},
        Row{"MAP_FIXED_NOREPLACE unaligned address: EINVAL", nr::kMmap,
            Mmap(kAddr + 1, 10 * P, R | W, kPrivate | kAnon | kFixedNoReplace), NoFacts(),
            CallKind::kInvalid, Free(), Free()},
        Row{"unaligned hint without MAP_FIXED is fine", nr::kMmap,
            Mmap(kAddr + 1, 10 * P, R | W, kPrivate | kAnon), NoFacts(),
            CallKind::kMmapPrivateWritable, Plan(kBarrier, 10), Plan(kBarrier, 10)},
        Row{"unaligned file offset: EINVAL", nr::kMmap, Mmap(0, 10 * P, R | W, kPrivate, 3, 100),
            NoFacts(), CallKind::kInvalid, Free(), Free()},
        Row{"length 0: EINVAL", nr::kMmap, Mmap(0, 0, R | W, kPrivate | kAnon), NoFacts(),
            CallKind::kInvalid, Free(), Free()},
        Row{"length 2^47: the whole user address space, still classified", nr::kMmap,
            Mmap(0, uint64_t{1} << 47, R | W, kPrivate | kAnon | kNoReserve), NoFacts(),
            CallKind::kMmapPrivateWritable, Plan(kBarrier, uint64_t{1} << 35),
            Plan(kBarrier, uint64_t{1} << 35)},
        Row{"length 2^47 + 1: ENOMEM from the kernel", nr::kMmap,
            Mmap(0, (uint64_t{1} << 47) + 1, R | W, kPrivate | kAnon), NoFacts(),
            CallKind::kInvalid, Free(), Free()},
        Row{"length near 2^64 (PAGE_ALIGN wraps)", nr::kMmap,
            Mmap(0, UINT64_MAX - 10, R | W, kPrivate | kAnon), NoFacts(), CallKind::kInvalid,
            Free(), Free()},
        Row{"length 2^64-1", nr::kMmap, Mmap(0, UINT64_MAX, R | W, kPrivate | kAnon), NoFacts(),
            CallKind::kInvalid, Free(), Free()},
        Row{"map type 0: EINVAL", nr::kMmap, Mmap(0, 10 * P, R | W, kAnon), NoFacts(),
            CallKind::kInvalid, Free(), Free()},
        Row{"map type 0x04: EINVAL", nr::kMmap, Mmap(0, 10 * P, R | W, 0x04 | kAnon), NoFacts(),
            CallKind::kInvalid, Free(), Free()},
        Row{"MAP_DROPPABLE anonymous writable: private, charged", nr::kMmap,
            Mmap(0, 10 * P, R | W, kDroppable | kAnon), NoFacts(), CallKind::kMmapPrivateWritable,
            Plan(kBarrier, 10), Plan(kBarrier, 10)},
        Row{"MAP_DROPPABLE file: EINVAL", nr::kMmap, Mmap(0, 10 * P, R | W, kDroppable, 3),
            NoFacts(), CallKind::kInvalid, Free(), Free()}));

INSTANTIATE_TEST_SUITE_P(
    MprotectEdges, CallSiteTable,
    testing::Values(Row{"mprotect unaligned start: EINVAL",
                        nr::kMprotect,
                        {kAddr + 8, P, R | W},
                        Range(0, 1, 1),
                        CallKind::kInvalid,
                        Free(),
                        Free()},
                    Row{"mprotect length 0 is a no-op",
                        nr::kMprotect,
                        {kAddr, 0, R | W},
                        NoFacts(),
                        CallKind::kMprotectNoWrite,
                        Free(),
                        Free()},
                    Row{"mprotect without range facts: rounded length, upper bound",
                        nr::kMprotect,
                        {kAddr, 2 * P + 1, R | W},
                        NoFacts(),
                        CallKind::kMprotectWrite,
                        Plan(kBarrier, 3, false),
                        Plan(kLimit, 3, false)},
                    Row{"mprotect write on an already writable range: 0",
                        nr::kMprotect,
                        {kAddr, 10 * P, R | W},
                        Range(10, 10, 10),
                        CallKind::kMprotectWrite,
                        Plan(kBarrier, 0),
                        Plan(kLimit, 0)},
                    Row{"mprotect write on shared mappings only: 0",
                        nr::kMprotect,
                        {kAddr, 10 * P, R | W},
                        Range(0, 0, 10),
                        CallKind::kMprotectWrite,
                        Plan(kBarrier, 0),
                        Plan(kLimit, 0)},
                    Row{"mprotect PROT_WRITE|PROT_GROWSDOWN",
                        nr::kMprotect,
                        {kAddr, P, R | W | 0x01000000},
                        Range(0, 1, 1),
                        CallKind::kMprotectWrite,
                        Plan(kBarrier, 1),
                        Plan(kLimit, 1)},
                    Row{"mprotect GROWSDOWN|GROWSUP: EINVAL",
                        nr::kMprotect,
                        {kAddr, P, R | W | 0x03000000},
                        Range(0, 1, 1),
                        CallKind::kInvalid,
                        Free(),
                        Free()},
                    Row{"mprotect unknown prot bit: EINVAL",
                        nr::kMprotect,
                        {kAddr, P, R | W | 0x10},
                        Range(0, 1, 1),
                        CallKind::kInvalid,
                        Free(),
                        Free()},
                    Row{"mprotect end wraps: ENOMEM",
                        nr::kMprotect,
                        {kAddr, UINT64_MAX - 2 * P, R | W},
                        NoFacts(),
                        CallKind::kInvalid,
                        Free(),
                        Free()}));

INSTANTIATE_TEST_SUITE_P(
    MremapEdges, CallSiteTable,
    testing::Values(Row{"mremap DONTUNMAP: old range stays, new range charged",
                        nr::kMremap,
                        {kAddr, 4 * P, 4 * P, kMayMove | kDontUnmap},
                        Range(4, 4, 4),
                        CallKind::kMremap,
                        Plan(kBarrier, 4),
                        Plan(kBarrier, 4)},
                    Row{"mremap DONTUNMAP of a shared mapping: 0",
                        nr::kMremap,
                        {kAddr, 4 * P, 4 * P, kMayMove | kDontUnmap},
                        Range(0, 0, 4),
                        CallKind::kMremap,
                        Free(),
                        Free()},
                    Row{"mremap DONTUNMAP without MAYMOVE: EINVAL",
                        nr::kMremap,
                        {kAddr, 4 * P, 4 * P, kDontUnmap},
                        Range(4, 4, 4),
                        CallKind::kInvalid,
                        Free(),
                        Free()},
                    Row{"mremap FIXED without MAYMOVE: EINVAL",
                        nr::kMremap,
                        {kAddr, 4 * P, 8 * P, kMremapFixed, kAddr + 0x100000000},
                        Range(4, 4, 4),
                        CallKind::kInvalid,
                        Free(),
                        Free()},
                    Row{"mremap unknown flag: EINVAL",
                        nr::kMremap,
                        {kAddr, 4 * P, 8 * P, kMayMove | 8},
                        Range(4, 4, 4),
                        CallKind::kInvalid,
                        Free(),
                        Free()},
                    Row{"mremap unaligned old address: EINVAL",
                        nr::kMremap,
                        {kAddr + 1, 4 * P, 8 * P, 0},
                        Range(4, 4, 4),
                        CallKind::kInvalid,
                        Free(),
                        Free()},
                    Row{"mremap new length 0: EINVAL",
                        nr::kMremap,
                        {kAddr, 4 * P, 0, kMayMove},
                        Range(4, 4, 4),
                        CallKind::kInvalid,
                        Free(),
                        Free()},
                    Row{"mremap grow without range facts: upper bound",
                        nr::kMremap,
                        {kAddr, 4 * P, 10 * P, kMayMove},
                        NoFacts(),
                        CallKind::kMremap,
                        Plan(kBarrier, 6, false),
                        Plan(kBarrier, 10, false)},
                    Row{"mremap grow of a shared or read-only mapping: 0",
                        nr::kMremap,
                        {kAddr, 4 * P, 10 * P, kMayMove},
                        Range(0, 0, 4),
                        CallKind::kMremap,
                        Free(),
                        Free()},
                    Row{"mremap shrink with MAYMOVE|FIXED",
                        nr::kMremap,
                        {kAddr, 10 * P, 4 * P, kMayMove | kMremapFixed, kAddr + 0x100000000},
                        Range(10, 10, 10),
                        CallKind::kMremap,
                        Free(),
                        Free()},
                    Row{"mremap lengths in the same page: no growth",
                        nr::kMremap,
                        {kAddr, P + 1, 2 * P, kMayMove},
                        Range(2, 2, 2),
                        CallKind::kMremap,
                        Free(),
                        Free()},
                    Row{"mremap grow by a partial page",
                        nr::kMremap,
                        {kAddr, 2 * P, 2 * P + 1, 0},
                        Range(2, 2, 2),
                        CallKind::kMremap,
                        Plan(kBarrier, 1),
                        Plan(kBarrier, 1)}));

INSTANTIATE_TEST_SUITE_P(
    BrkAndProcessEdges, CallSiteTable,
    testing::Values(Row{"brk(0) queries the break",
                        nr::kBrk,
                        {0},
                        Brk(kHeap),
                        CallKind::kBrkQuery,
                        Free(),
                        Free()},
                    Row{"brk to the current break",
                        nr::kBrk,
                        {kHeap + 0x800},
                        Brk(kHeap + 0x800),
                        CallKind::kBrk,
                        Free(),
                        Free()},
                    Row{"brk grow within the break's page",
                        nr::kBrk,
                        {kHeap + 0xf00},
                        Brk(kHeap + 0x800),
                        CallKind::kBrk,
                        Free(),
                        Free()},
                    Row{"brk grow by one byte into a new page",
                        nr::kBrk,
                        {kHeap + P + 1},
                        Brk(kHeap + P),
                        CallKind::kBrk,
                        Plan(kBarrier, 1, true, true, true),
                        Plan(kBarrier, 1, true, true, true)},
                    Row{"brk shrink by a partial page",
                        nr::kBrk,
                        {kHeap + 0x100},
                        Brk(kHeap + 0x800),
                        CallKind::kBrk,
                        Free(),
                        Free()},
                    Row{"brk without the current break: caller must resolve it",
                        nr::kBrk,
                        {kHeap + 8 * P},
                        NoFacts(),
                        CallKind::kBrk,
                        Plan(kBarrier, 0, false, true, true),
                        Plan(kBarrier, 0, false, true, true)},
                    Row{"fork without the parent's size",
                        nr::kFork,
                        {},
                        NoFacts(),
                        CallKind::kFork,
                        Plan(kLimit, 0, false),
                        Plan(kBarrier, 0, false)},
                    Row{"clone CLONE_VFORK without CLONE_VM copies the mm",
                        nr::kClone,
                        {kCloneVfork | kSigchld},
                        Parent(77),
                        CallKind::kFork,
                        Plan(kLimit, 77),
                        Plan(kBarrier, 77)},
                    Row{"clone3: flags in user memory",
                        nr::kClone3,
                        {0x7ffc00000000, 88},
                        Parent(77),
                        CallKind::kClone3,
                        Free(),
                        Free()},
                    Row{"read is not a memory call",
                        0,
                        {0, 0, 0},
                        NoFacts(),
                        CallKind::kNotMemory,
                        Free(),
                        Free()}));

TEST(ClassifySyscall, MmapFields) {
  const ClassifiedCall c =
      ClassifySyscall(nr::kMmap, Mmap(kAddr, 10 * P + 5, R | W, kPrivate | kAnon | kFixed));
  EXPECT_EQ(c.kind, CallKind::kMmapPrivateWritable);
  EXPECT_EQ(c.addr, kAddr);
  EXPECT_EQ(c.length_bytes, 10 * P + 5);
  EXPECT_EQ(c.new_length_bytes, 0u);
  EXPECT_TRUE(c.fixed);
  EXPECT_FALSE(c.may_move);
  EXPECT_FALSE(c.dont_unmap);

  const ClassifiedCall noreplace =
      ClassifySyscall(nr::kMmap, Mmap(kAddr, P, R | W, kPrivate | kAnon | kFixedNoReplace));
  EXPECT_FALSE(noreplace.fixed);
}

TEST(ClassifySyscall, MremapFields) {
  const ClassifiedCall c = ClassifySyscall(
      nr::kMremap, {kAddr, 4 * P, 9 * P, kMayMove | kMremapFixed, kAddr + 0x100000000, 0});
  EXPECT_EQ(c.kind, CallKind::kMremap);
  EXPECT_EQ(c.addr, kAddr);
  EXPECT_EQ(c.length_bytes, 4 * P);
  EXPECT_EQ(c.new_length_bytes, 9 * P);
  EXPECT_TRUE(c.may_move);
  EXPECT_TRUE(c.fixed);
  EXPECT_FALSE(c.dont_unmap);

  const ClassifiedCall d =
      ClassifySyscall(nr::kMremap, {kAddr, 4 * P, 4 * P, kMayMove | kDontUnmap, 0, 0});
  EXPECT_TRUE(d.may_move);
  EXPECT_FALSE(d.fixed);
  EXPECT_TRUE(d.dont_unmap);
}

TEST(ClassifySyscall, MprotectBrkMunmapFields) {
  const ClassifiedCall m = ClassifySyscall(nr::kMprotect, {kAddr, 3 * P, R | W, 0, 0, 0});
  EXPECT_EQ(m.addr, kAddr);
  EXPECT_EQ(m.length_bytes, 3 * P);
  const ClassifiedCall b = ClassifySyscall(nr::kBrk, {kHeap + 5, 0, 0, 0, 0, 0});
  EXPECT_EQ(b.kind, CallKind::kBrk);
  EXPECT_EQ(b.addr, kHeap + 5);
  const ClassifiedCall u = ClassifySyscall(nr::kMunmap, {kAddr, 7 * P, 0, 0, 0, 0});
  EXPECT_EQ(u.kind, CallKind::kMunmap);
  EXPECT_EQ(u.addr, kAddr);
  EXPECT_EQ(u.length_bytes, 7 * P);
}

TEST(ClassifySyscall, CloneParentMakesTheChildASibling) {
  constexpr uint64_t kCloneParent = 0x8000;
  ClassifiedCall sibling = ClassifySyscall(nr::kClone, {kCloneParent | kSigchld});
  EXPECT_EQ(sibling.kind, CallKind::kFork);
  EXPECT_TRUE(sibling.sibling);
  EXPECT_FALSE(ClassifySyscall(nr::kClone, {kSigchld}).sibling);
  EXPECT_FALSE(ClassifySyscall(nr::kFork, {}).sibling);
}

TEST(ClassifySyscall, ExecIsNeverCharged) {
  for (int n : {nr::kExecve, nr::kExecveat}) {
    const ClassifiedCall e = ClassifySyscall(n, {kAddr, 0, 0, 0, 0, 0});
    EXPECT_EQ(e.kind, CallKind::kExec);
    EXPECT_EQ(PlanCharge(e, Bc2006Profile(), {}).check, ChargeCheck::kNone);
    EXPECT_EQ(PlanCharge(e, OpenvzProfile(), {}).check, ChargeCheck::kNone);
  }
  EXPECT_STREQ(SyscallName(nr::kExecve), "execve");
  EXPECT_STREQ(SyscallName(nr::kExecveat), "execveat");
  EXPECT_STREQ(CallKindName(CallKind::kExec), "exec");
}

TEST(PlanCharge, FixedRangeLargerThanLengthSaturatesAtZero) {
  // Facts from a racy read can exceed the request; never wrap below zero.
  const ClassifiedCall c =
      ClassifySyscall(nr::kMmap, Mmap(kAddr, 2 * P, R | W, kPrivate | kAnon | kFixed));
  const ChargePlan p = PlanCharge(c, Bc2006Profile(), Range(5, 5, 5));
  EXPECT_EQ(p.pages, 0u);
  EXPECT_TRUE(p.exact);
}

TEST(PlanCharge, MprotectInconsistentFactsSaturateAtZero) {
  const ClassifiedCall c = ClassifySyscall(nr::kMprotect, {kAddr, 2 * P, R | W, 0, 0, 0});
  const ChargePlan p = PlanCharge(c, Bc2006Profile(), Range(5, 3, 5));
  EXPECT_EQ(p.pages, 0u);
}

TEST(CallKindName, EveryKind) {
  const std::pair<CallKind, const char*> names[] = {
      {CallKind::kMmapPrivateWritable, "mmap_private_writable"},
      {CallKind::kMmapSharedAnonWritable, "mmap_shared_anon_writable"},
      {CallKind::kMmapUncharged, "mmap_uncharged"},
      {CallKind::kBrk, "brk"},
      {CallKind::kBrkQuery, "brk_query"},
      {CallKind::kMremap, "mremap"},
      {CallKind::kMprotectWrite, "mprotect_write"},
      {CallKind::kMprotectNoWrite, "mprotect_no_write"},
      {CallKind::kFork, "fork"},
      {CallKind::kThreadOrVfork, "thread_or_vfork"},
      {CallKind::kClone3, "clone3"},
      {CallKind::kMunmap, "munmap"},
      {CallKind::kMlock, "mlock"},
      {CallKind::kMlockall, "mlockall"},
      {CallKind::kMunlockall, "munlockall"},
      {CallKind::kShmLock, "shm_lock"},
      {CallKind::kInvalid, "invalid"},
      {CallKind::kNotMemory, "not_memory"},
  };
  for (const auto& [kind, name] : names) EXPECT_STREQ(CallKindName(kind), name);
}

TEST(SyscallName, KnownNumbers) {
  EXPECT_STREQ(SyscallName(9), "mmap");
  EXPECT_STREQ(SyscallName(10), "mprotect");
  EXPECT_STREQ(SyscallName(11), "munmap");
  EXPECT_STREQ(SyscallName(12), "brk");
  EXPECT_STREQ(SyscallName(25), "mremap");
  EXPECT_STREQ(SyscallName(56), "clone");
  EXPECT_STREQ(SyscallName(57), "fork");
  EXPECT_STREQ(SyscallName(58), "vfork");
  EXPECT_STREQ(SyscallName(435), "clone3");
  EXPECT_STREQ(SyscallName(29), "shmget");
  EXPECT_STREQ(SyscallName(kAuditArchI386, 395), "shmget/i386");
  EXPECT_STREQ(SyscallName(kAuditArchI386, 117), "ipc/i386");
  EXPECT_STREQ(SyscallName(31), "shmctl");
  EXPECT_STREQ(SyscallName(149), "mlock");
  EXPECT_STREQ(SyscallName(150), "munlock");
  EXPECT_STREQ(SyscallName(151), "mlockall");
  EXPECT_STREQ(SyscallName(152), "munlockall");
  EXPECT_STREQ(SyscallName(325), "mlock2");
}

TEST(ShmgetAbis, EveryAbiTellsCreationsFromOpens) {
  // x32 shares x86-64's number; i386 has its own and the ipc multiplexer,
  // whose call is the low 16 bits of the first register.
  ClassifiedCall x32 =
      ClassifyTrappedSyscall(kAuditArchX86_64, 29 | kX32SyscallBit, {0, 8192, 0600, 0, 0, 0});
  EXPECT_EQ(x32.kind, CallKind::kShmget);
  EXPECT_EQ(x32.length_bytes, 8192u);
  ClassifiedCall direct =
      ClassifyTrappedSyscall(kAuditArchI386, 395, {0x100000000u | 5, 8192, 0600, 0, 0, 0});
  EXPECT_EQ(direct.kind, CallKind::kNotMemory);  // key 5 (upper half ignored), no IPC_CREAT
  ClassifiedCall ipc =
      ClassifyTrappedSyscall(kAuditArchI386, 117, {(3u << 16) | 23, 0, 1 << 20, 0600, 0, 0});
  EXPECT_EQ(ipc.kind, CallKind::kShmget);
  EXPECT_EQ(ipc.length_bytes, uint64_t{1} << 20);
  EXPECT_EQ(ipc.native_nr, 29);
  ClassifiedCall shmat = ClassifyTrappedSyscall(kAuditArchI386, 117, {21, 5, 0, 0, 0, 0});
  EXPECT_EQ(shmat.kind, CallKind::kNotMemory);
  // A negative key other than IPC_PRIVATE is a named key.
  EXPECT_EQ(ClassifySyscall(29, {0xffffffffu, 4096, 0600, 0, 0, 0}).kind, CallKind::kNotMemory);
  EXPECT_EQ(ClassifySyscall(29, {0x100000000u, 4096, 0600, 0, 0, 0}).kind, CallKind::kShmget);
}

TEST(LockingCalls, MlockRoundsTheRangeOutwardAsDoMlock) {
  ClassifiedCall c = ClassifySyscall(x86_64_nr::kMlock, {0x10000 + 100, 5000, 0, 0, 0, 0});
  EXPECT_EQ(c.kind, CallKind::kMlock);
  EXPECT_EQ(c.addr, 0x10000u);
  EXPECT_EQ(c.length_bytes, 2 * kPageBytes);  // [0x10064, 0x113ec) touches two pages
  EXPECT_EQ(c.lock_flags, 0u);
  // An empty range locks nothing; a wrapping one is EINVAL.
  EXPECT_EQ(ClassifySyscall(x86_64_nr::kMlock, {0x10000, 0, 0, 0, 0, 0}).kind,
            CallKind::kNotMemory);
  EXPECT_EQ(ClassifySyscall(x86_64_nr::kMlock, {0xfffffffffffff000u, 0x2000, 0, 0, 0, 0}).kind,
            CallKind::kInvalid);
  EXPECT_EQ(ClassifySyscall(x86_64_nr::kMlock, {0x1000, ~0ull, 0, 0, 0, 0}).kind,
            CallKind::kInvalid);
}

TEST(LockingCalls, Mlock2TakesOnlyMlockOnfault) {
  ClassifiedCall onfault = ClassifySyscall(x86_64_nr::kMlock2, {0x10000, 4096, 1, 0, 0, 0});
  EXPECT_EQ(onfault.kind, CallKind::kMlock);
  EXPECT_EQ(onfault.lock_flags, 1u);
  EXPECT_EQ(ClassifySyscall(x86_64_nr::kMlock2, {0x10000, 4096, 2, 0, 0, 0}).kind,
            CallKind::kInvalid);
  // flags is an int: the upper half of the register is not looked at.
  EXPECT_EQ(ClassifySyscall(x86_64_nr::kMlock2, {0x10000, 4096, 0x100000000u, 0, 0, 0}).kind,
            CallKind::kMlock);
}

TEST(LockingCalls, MlockallFlagsAsApplyMlockallFlagsChecksThem) {
  for (uint64_t ok : {1u, 2u, 3u, 5u, 6u, 7u}) {
    ClassifiedCall c = ClassifySyscall(x86_64_nr::kMlockall, {ok, 0, 0, 0, 0, 0});
    EXPECT_EQ(c.kind, CallKind::kMlockall) << ok;
    EXPECT_EQ(c.lock_flags, ok);
  }
  for (uint64_t bad : {0u, 4u, 8u, 9u}) {
    EXPECT_EQ(ClassifySyscall(x86_64_nr::kMlockall, {bad, 0, 0, 0, 0, 0}).kind, CallKind::kInvalid)
        << bad;
  }
  EXPECT_EQ(ClassifySyscall(x86_64_nr::kMunlockall, {}).kind, CallKind::kMunlockall);
  // munlock only releases; the kernel's VmLck is read after it.
  EXPECT_EQ(ClassifySyscall(x86_64_nr::kMunlock, {0x10000, 4096, 0, 0, 0, 0}).kind,
            CallKind::kNotMemory);
}

TEST(LockingCalls, MmapMapLockedIsMarked) {
  ClassifiedCall locked =
      ClassifySyscall(x86_64_nr::kMmap, {0, 4 * kPageBytes, 3, 0x22 | 0x2000, ~0ull, 0});
  EXPECT_EQ(locked.kind, CallKind::kMmapPrivateWritable);
  EXPECT_TRUE(locked.map_locked);
  EXPECT_FALSE(
      ClassifySyscall(x86_64_nr::kMmap, {0, 4 * kPageBytes, 3, 0x22, ~0ull, 0}).map_locked);
  // A read-only locked mapping is not privvmpages but is still locked memory.
  ClassifiedCall ro =
      ClassifySyscall(x86_64_nr::kMmap, {0, 4 * kPageBytes, 1, 0x22 | 0x2000, ~0ull, 0});
  EXPECT_EQ(ro.kind, CallKind::kMmapUncharged);
  EXPECT_TRUE(ro.map_locked);
}

TEST(LockingCalls, ShmctlOnlyShmLockOfAValidIdCharges) {
  ClassifiedCall lock = ClassifySyscall(x86_64_nr::kShmctl, {7, 11, 0, 0, 0, 0});
  EXPECT_EQ(lock.kind, CallKind::kShmLock);
  EXPECT_EQ(lock.addr, 7u);
  EXPECT_EQ(ClassifySyscall(x86_64_nr::kShmctl, {7, 12, 0, 0, 0, 0}).kind,
            CallKind::kNotMemory);  // SHM_UNLOCK
  EXPECT_EQ(ClassifySyscall(x86_64_nr::kShmctl, {7, 0, 0, 0, 0, 0}).kind,
            CallKind::kNotMemory);  // IPC_RMID
  EXPECT_EQ(ClassifySyscall(x86_64_nr::kShmctl, {0xffffffffu, 11, 0, 0, 0, 0}).kind,
            CallKind::kNotMemory);  // shmid -1: EINVAL
  // cmd is an int: SHM_LOCK with garbage in the upper half is still SHM_LOCK.
  EXPECT_EQ(ClassifySyscall(x86_64_nr::kShmctl, {7, 0x500000000u | 11, 0, 0, 0, 0}).kind,
            CallKind::kShmLock);
}

TEST(LockingCalls, EveryAbiReachesTheSameKinds) {
  constexpr uint32_t kI386Arch = 0x40000003;
  EXPECT_EQ(ClassifyTrappedSyscall(kI386Arch, 150, {0x10000, 4096, 0, 0, 0, 0}).kind,
            CallKind::kMlock);
  EXPECT_EQ(ClassifyTrappedSyscall(kI386Arch, 376, {0x10000, 4096, 1, 0, 0, 0}).kind,
            CallKind::kMlock);
  EXPECT_EQ(ClassifyTrappedSyscall(kI386Arch, 152, {2, 0, 0, 0, 0, 0}).kind, CallKind::kMlockall);
  EXPECT_EQ(ClassifyTrappedSyscall(kI386Arch, 153, {}).kind, CallKind::kMunlockall);
  EXPECT_EQ(ClassifyTrappedSyscall(kI386Arch, 396, {3, 11, 0, 0, 0, 0}).kind, CallKind::kShmLock);
  // ipc(SHMCTL, shmid, SHM_LOCK | IPC_64): the version bit is not part of cmd.
  ClassifiedCall ipc = ClassifyTrappedSyscall(kI386Arch, 117, {24, 3, 11 | 0x100, 0, 0, 0});
  EXPECT_EQ(ipc.kind, CallKind::kShmLock);
  EXPECT_EQ(ipc.addr, 3u);
  // x32 shares the x86-64 numbers.
  EXPECT_EQ(ClassifyTrappedSyscall(0xC000003E, 149 | 0x40000000, {0x10000, 4096, 0, 0, 0, 0}).kind,
            CallKind::kMlock);
  EXPECT_EQ(ClassifyTrappedSyscall(0xC000003E, 31 | 0x40000000, {3, 11, 0, 0, 0, 0}).kind,
            CallKind::kShmLock);
}

TEST(SyscallName, OtherNumbersAreStable) {
  const char* first = SyscallName(30);
  EXPECT_STREQ(first, "syscall_30");
  EXPECT_STREQ(SyscallName(0), "syscall_0");
  EXPECT_STREQ(SyscallName(-1), "syscall_-1");
  EXPECT_STREQ(SyscallName(0x40000009), "syscall_1073741833");
  // The pointer stays valid and unchanged after other lookups.
  EXPECT_EQ(SyscallName(30), first);
  EXPECT_STREQ(first, "syscall_30");
}

}  // namespace
}  // namespace ubc

namespace ubc {
namespace {

// The three ABIs an x86-64 kernel accepts, classified with their own numbers.
constexpr uint32_t kX86_64 = 0xC000003E, kI386 = 0x40000003;
constexpr int kX32 = 0x40000000;

TEST(ClassifyTrappedSyscall, X86_64IsClassifiedAsBefore) {
  const std::array<uint64_t, 6> args = {0, 10 * kPageBytes, 3, 0x22, ~0ull, 0};
  ClassifiedCall c = ClassifyTrappedSyscall(kX86_64, x86_64_nr::kMmap, args);
  EXPECT_EQ(c.kind, CallKind::kMmapPrivateWritable);
  EXPECT_EQ(c.abi, SyscallAbi::kX86_64);
  EXPECT_EQ(c.native_nr, x86_64_nr::kMmap);
  EXPECT_STREQ(SyscallName(kX86_64, x86_64_nr::kMmap), "mmap");
}

TEST(ClassifyTrappedSyscall, I386UsesItsNumbersAndThirtyTwoBitRegisters) {
  struct Case {
    int nr;
    std::array<uint64_t, 6> args;
    CallKind kind;
    int native;
  };
  const uint64_t hi = uint64_t{1} << 32;  // upper halves the kernel ignores
  for (const Case& k : std::vector<Case>{
           {i386_nr::kMmap2,
            {hi, hi + 16 * kPageBytes, hi | 3, hi | 0x22, ~0ull, 7},
            CallKind::kMmapPrivateWritable,
            x86_64_nr::kMmap},
           {i386_nr::kMmap2,
            {0, 16 * kPageBytes, 1, 0x22, ~0ull, 0},
            CallKind::kMmapUncharged,
            x86_64_nr::kMmap},
           {i386_nr::kOldMmap, {0x1000, 0, 0, 0, 0, 0}, CallKind::kRefusedAbi, -1},
           {i386_nr::kMprotect,
            {0x10000, kPageBytes, 3, 0, 0, 0},
            CallKind::kMprotectWrite,
            x86_64_nr::kMprotect},
           {i386_nr::kPkeyMprotect,
            {0x10000, kPageBytes, 3, 5, 0, 0},
            CallKind::kMprotectWrite,
            x86_64_nr::kPkeyMprotect},
           {i386_nr::kBrk, {0x80000, 0, 0, 0, 0, 0}, CallKind::kBrk, x86_64_nr::kBrk},
           {i386_nr::kBrk, {hi, 0, 0, 0, 0, 0}, CallKind::kBrkQuery, x86_64_nr::kBrk},
           {i386_nr::kMremap,
            {0x10000, kPageBytes, 2 * kPageBytes, 1, 0, 0},
            CallKind::kMremap,
            x86_64_nr::kMremap},
           {i386_nr::kClone, {0x11, 0, 0, 0, 0, 0}, CallKind::kFork, x86_64_nr::kClone},
           {i386_nr::kClone,
            {0x3d0f00, 0, 0, 0, 0, 0},
            CallKind::kThreadOrVfork,
            x86_64_nr::kClone},
           {i386_nr::kFork, {}, CallKind::kFork, x86_64_nr::kFork},
           {i386_nr::kVfork, {}, CallKind::kThreadOrVfork, x86_64_nr::kVfork},
           {i386_nr::kExecve, {}, CallKind::kExec, x86_64_nr::kExecve},
           {i386_nr::kExecveat, {}, CallKind::kExec, x86_64_nr::kExecveat},
           {i386_nr::kClone3, {}, CallKind::kClone3, x86_64_nr::kClone3},
           {i386_nr::kMunmap,
            {0x10000, kPageBytes, 0, 0, 0, 0},
            CallKind::kMunmap,
            x86_64_nr::kMunmap},
           // i386 9 is link(2), not mmap.
           {9, {0, 16 * kPageBytes, 3, 0x22, 0, 0}, CallKind::kNotMemory, -1},
       }) {
    ClassifiedCall c = ClassifyTrappedSyscall(kI386, k.nr, k.args);
    EXPECT_EQ(c.kind, k.kind) << "i386 nr " << k.nr;
    EXPECT_EQ(c.abi, SyscallAbi::kI386);
    EXPECT_EQ(c.nr, k.nr);
    EXPECT_EQ(c.native_nr, k.native) << "i386 nr " << k.nr;
  }
  ClassifiedCall m = ClassifyTrappedSyscall(kI386, i386_nr::kMmap2,
                                            {hi, hi + 16 * kPageBytes, hi | 3, hi | 0x22, 0, 0});
  EXPECT_EQ(PlanCharge(m, Bc2006Profile(), {}).pages, 16u);
  EXPECT_STREQ(SyscallName(kI386, i386_nr::kMmap2), "mmap2/i386");
  EXPECT_STREQ(SyscallName(kI386, i386_nr::kOldMmap), "old_mmap/i386");
  EXPECT_STREQ(SyscallName(kI386, i386_nr::kMprotect), "mprotect/i386");
}

TEST(ClassifyTrappedSyscall, X32SharesTheMemoryNumbersButNotExecve) {
  const std::array<uint64_t, 6> rw = {0, 16 * kPageBytes, 3, 0x22, ~0ull, 0};
  ClassifiedCall c = ClassifyTrappedSyscall(kX86_64, kX32 | x86_64_nr::kMmap, rw);
  EXPECT_EQ(c.kind, CallKind::kMmapPrivateWritable);
  EXPECT_EQ(c.abi, SyscallAbi::kX32);
  EXPECT_EQ(c.nr, kX32 | x86_64_nr::kMmap);
  EXPECT_EQ(ClassifyTrappedSyscall(kX86_64, kX32 | x86_64_nr::kPkeyMprotect,
                                   {0x10000, kPageBytes, 3, 0, 0, 0})
                .kind,
            CallKind::kMprotectWrite);
  EXPECT_EQ(ClassifyTrappedSyscall(kX86_64, kX32 | x32_nr::kExecve, {}).kind, CallKind::kExec);
  EXPECT_EQ(ClassifyTrappedSyscall(kX86_64, kX32 | x32_nr::kExecveat, {}).kind, CallKind::kExec);
  // x86-64's own execve numbers are ENOSYS for x32: nothing happens.
  EXPECT_EQ(ClassifyTrappedSyscall(kX86_64, kX32 | x86_64_nr::kExecve, {}).kind,
            CallKind::kNotMemory);
  EXPECT_STREQ(SyscallName(kX86_64, kX32 | x86_64_nr::kMmap), "mmap/x32");
}

TEST(ClassifyTrappedSyscall, UnknownArchitecture) {
  ClassifiedCall c = ClassifyTrappedSyscall(0xC00000B7, 222, {0, kPageBytes, 3, 0x22, 0, 0});
  EXPECT_EQ(c.abi, SyscallAbi::kUnknown);
  EXPECT_EQ(c.kind, CallKind::kNotMemory);
}

TEST(ClassifySyscall, PkeyMprotectIsMprotect) {
  ClassifiedCall c = ClassifySyscall(x86_64_nr::kPkeyMprotect, {0x10000, 3 * kPageBytes, 3, 1});
  EXPECT_EQ(c.kind, CallKind::kMprotectWrite);
  EXPECT_EQ(PlanCharge(c, Bc2006Profile(), {}).pages, 3u);
  EXPECT_STREQ(SyscallName(x86_64_nr::kPkeyMprotect), "pkey_mprotect");
}

TEST(ClassifySyscall, GrowsDownMprotectHasNoUpperBoundWithoutTheRange) {
  constexpr uint64_t kGrowsDown = 0x01000000;
  ClassifiedCall c = ClassifySyscall(x86_64_nr::kMprotect, {0x10000, kPageBytes, 3 | kGrowsDown});
  EXPECT_EQ(c.kind, CallKind::kMprotectWrite);
  EXPECT_TRUE(c.grows_down);
  ChargePlan p = PlanCharge(c, Bc2006Profile(), {});
  EXPECT_FALSE(p.exact);
  EXPECT_TRUE(p.must_resolve_range);
  // With the range (resolved from the mapping's start) the plan is exact.
  ChargeContext ctx;
  ctx.range = RangeFacts{0, 500, 500};
  p = PlanCharge(c, Bc2006Profile(), ctx);
  EXPECT_TRUE(p.exact);
  EXPECT_EQ(p.pages, 500u);
  EXPECT_FALSE(ClassifySyscall(x86_64_nr::kMprotect, {0x10000, kPageBytes, 3}).grows_down);
}

TEST(ClassifySyscall, ReadOnlyGrowsDownMmapIsChargedLikeAStack) {
  constexpr uint64_t kGrowsDownMap = 0x100;
  ClassifiedCall c =
      ClassifySyscall(x86_64_nr::kMmap, {0, 8 * kPageBytes, 1, 0x22 | kGrowsDownMap, ~0ull, 0});
  EXPECT_EQ(c.kind, CallKind::kMmapPrivateWritable);
  EXPECT_EQ(PlanCharge(c, Bc2006Profile(), {}).pages, 8u);
  EXPECT_EQ(ClassifySyscall(x86_64_nr::kMmap, {0, 8 * kPageBytes, 1, 0x22, ~0ull, 0}).kind,
            CallKind::kMmapUncharged);
}

TEST(ClassifySyscall, MapShadowStackIsANewPrivateWritableMapping) {
  ClassifiedCall c = ClassifySyscall(x86_64_nr::kMapShadowStack, {0, 4 * kPageBytes, 1});
  EXPECT_EQ(c.kind, CallKind::kMmapPrivateWritable);
  EXPECT_FALSE(c.fixed);
  EXPECT_EQ(PlanCharge(c, Bc2006Profile(), {}).pages, 4u);
  EXPECT_EQ(ClassifySyscall(x86_64_nr::kMapShadowStack, {0, 0, 1}).kind, CallKind::kInvalid);
}

}  // namespace
}  // namespace ubc
