#include "core/memory_map.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "core/units.h"

namespace ubc {
namespace {

// A trimmed /proc/PID/maps of a small dynamically linked program, with a
// private writable file mapping, a shared anonymous mapping, a shared file
// mapping, a deleted file and a path containing spaces.
constexpr const char* kSample =
    "555555554000-555555556000 r--p 00000000 08:01 1835081                    /usr/bin/probe\n"
    "555555556000-555555558000 r-xp 00002000 08:01 1835081                    /usr/bin/probe\n"
    "555555559000-55555555a000 rw-p 00004000 08:01 1835081                    /usr/bin/probe\n"
    "55555555a000-55555557b000 rw-p 00000000 00:00 0                          [heap]\n"
    "7ffff7d80000-7ffff7d90000 rw-s 00000000 00:01 4096                       /dev/zero "
    "(deleted)\n"
    "7ffff7d90000-7ffff7da0000 rw-s 00000000 08:01 42                         /data/my file.db\n"
    "7ffff7da0000-7ffff7db0000 rw-p 00000000 08:01 43                         /tmp/gone "
    "(deleted)\n"
    "7ffff7db0000-7ffff7dc0000 ---p 00000000 00:00 0 \n"
    "7ffff7dc0000-7ffff7dc4000 rw-p 00000000 00:00 0\n"
    "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

MapEntry Entry(uint64_t start, uint64_t end, const char* perms, uint64_t offset, uint64_t inode,
               const char* path) {
  MapEntry e;
  e.start = start;
  e.end = end;
  e.read = perms[0] == 'r';
  e.write = perms[1] == 'w';
  e.exec = perms[2] == 'x';
  e.shared = perms[3] == 's';
  e.offset = offset;
  e.inode = inode;
  e.path = path;
  return e;
}

TEST(ParseProcMaps, RealisticSample) {
  Result<std::vector<MapEntry>> maps = ParseProcMaps(kSample);
  ASSERT_TRUE(maps.ok()) << maps.status().message();
  const std::vector<MapEntry> want = {
      Entry(0x555555554000, 0x555555556000, "r--p", 0, 1835081, "/usr/bin/probe"),
      Entry(0x555555556000, 0x555555558000, "r-xp", 0x2000, 1835081, "/usr/bin/probe"),
      Entry(0x555555559000, 0x55555555a000, "rw-p", 0x4000, 1835081, "/usr/bin/probe"),
      Entry(0x55555555a000, 0x55555557b000, "rw-p", 0, 0, "[heap]"),
      Entry(0x7ffff7d80000, 0x7ffff7d90000, "rw-s", 0, 4096, "/dev/zero (deleted)"),
      Entry(0x7ffff7d90000, 0x7ffff7da0000, "rw-s", 0, 42, "/data/my file.db"),
      Entry(0x7ffff7da0000, 0x7ffff7db0000, "rw-p", 0, 43, "/tmp/gone (deleted)"),
      Entry(0x7ffff7db0000, 0x7ffff7dc0000, "---p", 0, 0, ""),
      Entry(0x7ffff7dc0000, 0x7ffff7dc4000, "rw-p", 0, 0, ""),
      Entry(0x7ffffffde000, 0x7ffffffff000, "rw-p", 0, 0, "[stack]"),
      Entry(0xffffffffff600000, 0xffffffffff601000, "--xp", 0, 0, "[vsyscall]"),
  };
  ASSERT_EQ(maps->size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ((*maps)[i], want[i]) << "entry " << i;
}

TEST(ParseProcMaps, PathKeepsTrailingSpacesAndFlags) {
  Result<std::vector<MapEntry>> maps =
      ParseProcMaps("7f0000000000-7f0000001000 r-xs 0000a000 fd:02 99   /a b  \n");
  ASSERT_TRUE(maps.ok()) << maps.status().message();
  ASSERT_EQ(maps->size(), 1u);
  const MapEntry& e = (*maps)[0];
  EXPECT_EQ(e.path, "/a b  ");
  EXPECT_TRUE(e.read);
  EXPECT_FALSE(e.write);
  EXPECT_TRUE(e.exec);
  EXPECT_TRUE(e.shared);
  EXPECT_EQ(e.offset, 0xa000u);
  EXPECT_EQ(e.inode, 99u);
}

TEST(ParseProcMaps, EmptyTextAndMissingFinalNewline) {
  Result<std::vector<MapEntry>> empty = ParseProcMaps("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());

  Result<std::vector<MapEntry>> one = ParseProcMaps("1000-3000 rw-p 00000000 00:00 0");
  ASSERT_TRUE(one.ok()) << one.status().message();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0], Entry(0x1000, 0x3000, "rw-p", 0, 0, ""));
}

TEST(ParseProcMaps, Errors) {
  const std::pair<const char*, const char*> cases[] = {
      {"1000-3000 rw-p 00000000 00:00 0\nzzzz-3000 rw-p 00000000 00:00 0\n",
       "maps line 2: invalid address range \"zzzz-3000\""},
      {"10003000 rw-p 00000000 00:00 0\n", "maps line 1: invalid address range \"10003000\""},
      {"3000-1000 rw-p 00000000 00:00 0\n", "maps line 1: invalid address range \"3000-1000\""},
      {"1000-1000 rw-p 00000000 00:00 0\n", "maps line 1: invalid address range \"1000-1000\""},
      {"1000-3000x rw-p 00000000 00:00 0\n", "maps line 1: invalid address range \"1000-3000x\""},
      {"1000-3000 rw-q 00000000 00:00 0\n", "maps line 1: invalid permissions \"rw-q\""},
      {"1000-3000 rw- 00000000 00:00 0\n", "maps line 1: invalid permissions \"rw-\""},
      {"1000-3000 wr-p 00000000 00:00 0\n", "maps line 1: invalid permissions \"wr-p\""},
      {"1000-3000 rw-p 0000g000 00:00 0\n", "maps line 1: invalid offset \"0000g000\""},
      {"1000-3000 rw-p 00000000 0000 0\n", "maps line 1: invalid device \"0000\""},
      {"1000-3000 rw-p 00000000 00:00 x1\n", "maps line 1: invalid inode \"x1\""},
      {"1000-3000 rw-p 00000000 00:00\n", "maps line 1: invalid inode \"\""},
      {"\n\n1000-3000 rw-p\n", "maps line 3: invalid offset \"\""},
  };
  for (const auto& [text, message] : cases) {
    Result<std::vector<MapEntry>> maps = ParseProcMaps(text);
    ASSERT_FALSE(maps.ok()) << text;
    EXPECT_EQ(maps.status().message(), message) << text;
  }
}

struct FactsCase {
  const char* what;
  uint64_t addr, length_bytes;
  uint64_t private_writable, private_pages, mapped;
};

class RangeFactsTable : public testing::TestWithParam<FactsCase> {};

TEST_P(RangeFactsTable, Counts) {
  const FactsCase& c = GetParam();
  Result<std::vector<MapEntry>> maps = ParseProcMaps(kSample);
  ASSERT_TRUE(maps.ok());
  const RangeFacts f = RangeFactsFor(*maps, c.addr, c.length_bytes);
  EXPECT_EQ(f.private_writable_pages, c.private_writable) << c.what;
  EXPECT_EQ(f.private_pages, c.private_pages) << c.what;
  EXPECT_EQ(f.mapped_pages, c.mapped) << c.what;
}

constexpr uint64_t P = kPageBytes;

INSTANTIATE_TEST_SUITE_P(
    Sample, RangeFactsTable,
    testing::Values(
        FactsCase{"whole heap", 0x55555555a000, 0x21000, 0x21, 0x21, 0x21},
        FactsCase{"first page of the heap", 0x55555555a000, P, 1, 1, 1},
        FactsCase{"length rounded up to 2 pages", 0x55555555a000, P + 1, 2, 2, 2},
        FactsCase{"unaligned start covers the pages it touches", 0x55555555a800, P, 2, 2, 2},
        FactsCase{"binary: r--p 2, r-xp 2, hole 1, rw-p 1, heap 2", 0x555555554000, 8 * P, 3, 7, 7},
        FactsCase{"shared anon and shared file count only as mapped", 0x7ffff7d80000, 0x20000, 0, 0,
                  0x20},
        FactsCase{"deleted private file, PROT_NONE, anon", 0x7ffff7da0000, 0x24000, 0x14, 0x24,
                  0x24},
        FactsCase{"straddles shared and private", 0x7ffff7d9f000, 2 * P, 1, 1, 2},
        FactsCase{"unmapped hole", 0x600000000000, 100 * P, 0, 0, 0},
        FactsCase{"zero length", 0x55555555a000, 0, 0, 0, 0},
        FactsCase{"everything, length to the end of the address space", 0, UINT64_MAX,
                  1 + 0x21 + 0x10 + 4 + 0x21, 2 + 2 + 1 + 0x21 + 0x10 + 0x10 + 4 + 0x21 + 1,
                  2 + 2 + 1 + 0x21 + 0x10 + 0x10 + 0x10 + 0x10 + 4 + 0x21 + 1},
        FactsCase{"end wraps past 2^64: saturates", 0xffffffffff600000, UINT64_MAX, 0, 1, 1}));

TEST(NoteSharedAnonymousObjects, EachObjectOnceByItsFurthestMappedPage) {
  // Object 4096 mapped whole (16 pages) in one process; object 5000 split by
  // an mprotect into two mappings, its second half read-only (still its
  // pages); object 6000 read-only everywhere; a SysV segment and a memfd are
  // not anonymous.
  Result<std::vector<MapEntry>> first = ParseProcMaps(
      "7ffff7d80000-7ffff7d90000 rw-s 00000000 00:01 4096    /dev/zero (deleted)\n"
      "7ffff7e00000-7ffff7e04000 rw-s 00000000 00:01 5000    /dev/zero (deleted)\n"
      "7ffff7e04000-7ffff7e08000 r--s 00004000 00:01 5000    /dev/zero (deleted)\n"
      "7ffff7f00000-7ffff7f10000 r--s 00000000 00:01 6000    /dev/zero (deleted)\n"
      "7ffff7f10000-7ffff7f20000 rw-s 00000000 00:01 7000    /SYSV00000000 (deleted)\n"
      "7ffff7f20000-7ffff7f30000 rw-s 00000000 00:01 8000    /memfd:x (deleted)\n"
      "7ffff7f30000-7ffff7f40000 rw-p 00000000 00:00 0\n");
  // After fork the child shows object 4096 too, and maps a tail of 5000 far in.
  Result<std::vector<MapEntry>> second = ParseProcMaps(
      "7ffff7d80000-7ffff7d90000 rw-s 00000000 00:01 4096    /dev/zero (deleted)\n"
      "7ffff7e10000-7ffff7e11000 rw-s 00009000 00:01 5000    /dev/zero (deleted)\n");
  ASSERT_TRUE(first.ok() && second.ok());
  SharedAnonymousObjects objects;
  NoteSharedAnonymousObjects(*first, &objects);
  EXPECT_EQ(objects,
            (SharedAnonymousObjects{{4096, {16, true}}, {5000, {8, true}}, {6000, {16, false}}}));
  EXPECT_EQ(WritableSharedAnonymousPages(objects), 16u + 8u);
  NoteSharedAnonymousObjects(*second, &objects);
  EXPECT_EQ(objects,
            (SharedAnonymousObjects{{4096, {16, true}}, {5000, {10, true}}, {6000, {16, false}}}));
  EXPECT_EQ(WritableSharedAnonymousPages(objects), 16u + 10u);
}

// A trimmed /proc/PID/smaps: one locked heap, one unlocked mapping, one
// locked-on-fault mapping (also "lo").
constexpr const char* kSmapsSample =
    "55555555a000-55555557b000 rw-p 00000000 00:00 0                          [heap]\n"
    "Size:                132 kB\n"
    "Locked:              132 kB\n"
    "VmFlags: rd wr mr mw me ac lo sd\n"
    "7ffff7dc0000-7ffff7dc4000 rw-p 00000000 00:00 0\n"
    "Size:                 16 kB\n"
    "Locked:                0 kB\n"
    "VmFlags: rd wr mr mw me ac sd\n"
    "7ffff7e00000-7ffff7e10000 rw-p 00000000 00:00 0 \n"
    "Size:                 64 kB\n"
    "VmFlags: rd wr mr mw me lo ac sd lf\n";

TEST(ParseSmapsLockedRanges, KeepsTheMappingsFlaggedLo) {
  Result<std::vector<AddressRange>> locked = ParseSmapsLockedRanges(kSmapsSample);
  ASSERT_TRUE(locked.ok()) << locked.status().message();
  EXPECT_EQ(*locked, (std::vector<AddressRange>{{0x55555555a000, 0x55555557b000},
                                                {0x7ffff7e00000, 0x7ffff7e10000}}));
  Result<std::vector<AddressRange>> none = ParseSmapsLockedRanges("");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(ParseSmapsLockedRanges, Errors) {
  // A flag called "lock" or "blo" is not "lo".
  Result<std::vector<AddressRange>> near =
      ParseSmapsLockedRanges("1000-2000 rw-p 00000000 00:00 0\nVmFlags: rd blo lock\n");
  ASSERT_TRUE(near.ok());
  EXPECT_TRUE(near->empty());
  Result<std::vector<AddressRange>> orphan = ParseSmapsLockedRanges("VmFlags: rd wr lo\n");
  ASSERT_FALSE(orphan.ok());
  EXPECT_NE(orphan.status().message().find("line 1"), std::string::npos);
  Result<std::vector<AddressRange>> bad =
      ParseSmapsLockedRanges("Size: 4 kB\nzzzz-2000 rw-p 00000000 00:00 0\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("2"), std::string::npos);
}

TEST(PagesCovered, CountsTheOverlapRoundedOutward) {
  const std::vector<AddressRange> ranges = {{0x10000, 0x14000}, {0x20000, 0x21000}};
  EXPECT_EQ(PagesCovered(ranges, 0x10000, 0x4000), 4u);
  EXPECT_EQ(PagesCovered(ranges, 0x12000, 0x20000), 3u);  // two of the first, the whole second
  EXPECT_EQ(PagesCovered(ranges, 0x13fff, 2), 1u);        // [0x13000, 0x15000) meets one page
  EXPECT_EQ(PagesCovered(ranges, 0x15000, 0x1000), 0u);
  EXPECT_EQ(PagesCovered(ranges, 0x10000, 0), 0u);
  EXPECT_EQ(PagesCovered(ranges, 0, ~0ull), 5u);  // a saturating end covers everything
  EXPECT_EQ(PagesCovered({}, 0x10000, 0x4000), 0u);
}

TEST(RangeWritable, EveryByteInAWritableMapping) {
  Result<std::vector<MapEntry>> maps = ParseProcMaps(kSample);
  ASSERT_TRUE(maps.ok());
  EXPECT_TRUE(RangeWritable(*maps, 0x55555555a000, 112));   // the heap
  EXPECT_TRUE(RangeWritable(*maps, 0x555555559ff8, 16));    // across two writable ones
  EXPECT_FALSE(RangeWritable(*maps, 0x555555556000, 112));  // r-xp code
  EXPECT_FALSE(RangeWritable(*maps, 0x55555557aff8, 112));  // runs past the heap into a hole
  EXPECT_FALSE(RangeWritable(*maps, 0x7ffff7db0000, 8));    // ---p
  EXPECT_FALSE(RangeWritable(*maps, 8, 112));               // nothing mapped
  EXPECT_FALSE(RangeWritable(*maps, ~0ull - 8, 112));       // wraps
  EXPECT_TRUE(RangeWritable(*maps, 8, 0));
}

TEST(HeapEnd, FindsTheHeap) {
  Result<std::vector<MapEntry>> maps = ParseProcMaps(kSample);
  ASSERT_TRUE(maps.ok());
  EXPECT_EQ(HeapEnd(*maps), std::optional<uint64_t>(0x55555557b000));
}

TEST(HeapEnd, ASplitHeapEndsWithItsLastMapping) {
  // madvise(MADV_HUGEPAGE) on part of the heap splits it; every part is [heap].
  Result<std::vector<MapEntry>> maps = ParseProcMaps(
      "555555559000-555555600000 rw-p 00000000 00:00 0    [heap]\n"
      "555555600000-555555800000 rw-p 00000000 00:00 0    [heap]\n"
      "555555800000-555555a00000 rw-p 00000000 00:00 0    [heap]\n"
      "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0    [stack]\n");
  ASSERT_TRUE(maps.ok()) << maps.status().message();
  EXPECT_EQ(HeapEnd(*maps), std::optional<uint64_t>(0x555555a00000));
}

TEST(HeapEnd, NoHeap) {
  Result<std::vector<MapEntry>> maps = ParseProcMaps(
      "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0    [stack]\n"
      "1000-2000 rw-p 00000000 00:00 0    [heap] (deleted)\n");
  ASSERT_TRUE(maps.ok()) << maps.status().message();
  EXPECT_EQ(HeapEnd(*maps), std::nullopt);
  EXPECT_EQ(HeapEnd({}), std::nullopt);
}

}  // namespace
}  // namespace ubc
