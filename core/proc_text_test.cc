#include "core/proc_text.h"

#include <gtest/gtest.h>

#include <climits>
#include <string>
#include <vector>

#include "core/units.h"

namespace ubc {
namespace {

// ---------------------------------------------------------------- statm

TEST(ParseStatm, Table) {
  const struct {
    const char* text;
    std::optional<Statm> want;
  } cases[] = {
      {"2928 441 412 6 0 56 0\n", Statm{2928, 441, 412, 6, 0, 56, 0}},
      {"2928 441 412 6 0 56 0", Statm{2928, 441, 412, 6, 0, 56, 0}},
      {"1 2 3 4 5 6 7\nanything after the line", Statm{1, 2, 3, 4, 5, 6, 7}},
      {"0 0 0 0 0 18446744073709551615 0\n", Statm{0, 0, 0, 0, 0, UINT64_MAX, 0}},
      {"", std::nullopt},
      {"\n", std::nullopt},
      {"1 2 3 4 5 6\n", std::nullopt},      // a field missing
      {"1 2 3 4 5 6 7 8\n", std::nullopt},  // one too many
      {"1 2 3 4 5 6 7 \n", std::nullopt},   // trailing space
      {"1 2 3 4 5 6 7\r\n", std::nullopt},
      {"1  2 3 4 5 6 7\n", std::nullopt},  // fields are single-spaced
      {" 1 2 3 4 5 6 7\n", std::nullopt},
      {"1\t2 3 4 5 6 7\n", std::nullopt},
      {"1 2 3 4 5 x 7\n", std::nullopt},
      {"1 2 3 4 5 6x 7\n", std::nullopt},
      {"1 2 3 4 5 -6 7\n", std::nullopt},
      {"1 2 3 4 5 +6 7\n", std::nullopt},
      {"1 2 3 4 5 18446744073709551616 7\n", std::nullopt},  // overflow
  };
  for (const auto& c : cases) EXPECT_EQ(ParseStatm(c.text), c.want) << '"' << c.text << '"';
}

TEST(StatmDataPages, IsTheSixthField) { EXPECT_EQ(StatmDataPages(Statm{1, 2, 3, 4, 5, 6, 7}), 6u); }

TEST(LayoutOf, IsTheFieldsOnlyAMappingChanges) {
  EXPECT_EQ(LayoutOf(Statm{1, 2, 3, 4, 5, 6, 7}), (StatmLayout{1, 4, 5, 6}));
  // Two reads of one address space between which pages were faulted in.
  EXPECT_EQ(LayoutOf(Statm{2928, 441, 412, 6, 0, 56, 0}),
            LayoutOf(Statm{2928, 470, 415, 6, 0, 56, 0}));
  EXPECT_NE(LayoutOf(Statm{2928, 441, 412, 6, 0, 56, 0}),
            LayoutOf(Statm{2928, 441, 412, 6, 0, 57, 0}));
}

// ---------------------------------------------------------------- stat

// A /proc/PID/stat line of `fields` fields (52 in current kernels) with this
// comm, vsize (field 23) and start_brk (field 47); every other field n is n,
// except field 8 (tpgid), -1 as the kernel writes it without a terminal.
std::string StatLine(const std::string& comm, const std::string& vsize,
                     const std::string& start_brk, int fields = 52) {
  std::string line = "26942 (" + comm + ")";
  for (int n = 3; n <= fields; ++n) {
    line += ' ';
    if (n == 3) {
      line += 'S';
    } else if (n == 8) {
      line += "-1";
    } else if (n == 23) {
      line += vsize;
    } else if (n == 47) {
      line += start_brk;
    } else {
      line += std::to_string(n);
    }
  }
  return line;
}

struct StatCase {
  const char* what;
  std::string text;
  uint64_t vm_pages, start_brk;
};

class ParseStatImageTable : public testing::TestWithParam<StatCase> {};

TEST_P(ParseStatImageTable, Parses) {
  const StatCase& c = GetParam();
  Result<ImageFacts> facts = ParseStatImage(c.text);
  ASSERT_TRUE(facts.ok()) << c.what << ": " << facts.status().message();
  EXPECT_EQ(facts->vm_pages, c.vm_pages) << c.what;
  EXPECT_EQ(facts->start_brk, c.start_brk) << c.what;
}

TEST(ParseStatImage, ThreadsIsField20) {
  // StatLine fills every other field with its own number: field 20 is "20".
  Result<ImageFacts> facts = ParseStatImage(StatLine("probe", "8192", "4096"));
  ASSERT_TRUE(facts.ok());
  EXPECT_EQ(facts->threads, 20u);
  std::string bad = StatLine("probe", "8192", "4096");
  bad.replace(bad.find(" 20 "), 4, " x2 ");
  EXPECT_FALSE(ParseStatImage(bad).ok());
}

INSTANTIATE_TEST_SUITE_P(
    Lines, ParseStatImageTable,
    testing::Values(
        StatCase{"a real line",
                 "26942 (cat) R 26940 26940 23421 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 "
                 "1198077 3133440 374 18446744073709551615 94213733527552 94213733547433 "
                 "140720423066064 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94213733563440 "
                 "94213733565056 94214762266624 140720423070338 140720423070358 "
                 "140720423070358 140720423071723 0\n",
                 3133440 / kPageBytes, 94214762266624},
        StatCase{"no trailing newline", StatLine("probe", "8192", "4096"), 2, 4096},
        StatCase{"trailing newline", StatLine("probe", "8192", "4096") + "\n", 2, 4096},
        StatCase{"vsize rounded up to pages", StatLine("probe", "8193", "0"), 3, 0},
        StatCase{"vsize zero (a kernel thread)", StatLine("kworker/0:1", "0", "0"), 0, 0},
        StatCase{"vsize near 2^64", StatLine("p", "18446744073709551615", "1"),
                 PagesForBytes(UINT64_MAX), 1},
        StatCase{"comm with spaces", StatLine("my prog", "4096", "7"), 1, 7},
        StatCase{"comm with \") (\" inside", StatLine("a) (b", "4096", "7"), 1, 7},
        StatCase{"comm that looks like fields", StatLine("x) S 1 2 3 (y", "4096", "7"), 1, 7},
        StatCase{"comm of a lone ')'", StatLine(")", "4096", "7"), 1, 7},
        StatCase{"comm of a lone '('", StatLine("(", "4096", "7"), 1, 7},
        StatCase{"empty comm", StatLine("", "4096", "7"), 1, 7},
        StatCase{"only 47 fields", StatLine("p", "4096", "7", 47), 1, 7},
        StatCase{"fields after 47 are not read", StatLine("p", "4096", "7") + " junk", 1, 7}));

TEST(ParseStatImage, Errors) {
  const std::pair<std::string, const char*> cases[] = {
      {"", "unparsable stat"},
      {"26942 cat R 1 2 3", "unparsable stat"},
      {"26942 (cat)", "stat has no start_brk field"},
      {"26942 (cat)\n", "stat has no start_brk field"},
      {StatLine("p", "4096", "7", 46), "stat has no start_brk field"},
      {StatLine("p", "4096", "7", 22), "stat has no start_brk field"},
      {StatLine("p", "12x", "7"), "stat: invalid vsize \"12x\""},
      {StatLine("p", "-1", "7"), "stat: invalid vsize \"-1\""},
      {StatLine("p", "18446744073709551616", "7"), "stat: invalid vsize \"18446744073709551616\""},
      {StatLine("p", "4096", "0x10"), "stat: invalid start_brk \"0x10\""},
      {StatLine("p", "4096", "18446744073709551616"),
       "stat: invalid start_brk \"18446744073709551616\""},
  };
  for (const auto& [text, message] : cases) {
    Result<ImageFacts> facts = ParseStatImage(text);
    ASSERT_FALSE(facts.ok()) << text;
    EXPECT_EQ(facts.status().message(), message) << text;
  }
}

// ---------------------------------------------------------------- status

constexpr const char* kStatus =
    "Name:\tprobe\n"
    "Umask:\t0022\n"
    "State:\tS (sleeping)\n"
    "Tgid:\t26943\n"
    "Ngid:\t0\n"
    "Pid:\t26950\n"
    "PPid:\t26940\n"
    "TracerPid:\t0\n"
    "Uid:\t0\t0\t0\t0\n"
    "Groups:\t \n"
    "VmPeak:\t    2928 kB\n"
    "VmLck:\t       0 kB\n"
    "VmRSS:\t    1764 kB\n"
    "VmData:\t     224 kB\n"
    "Threads:\t2\n";

TEST(KeyedValue, Table) {
  const char* stat = "anon 1208320\nfile 4096\nkernel 962560\nkernel_stack 65536\n";
  EXPECT_EQ(KeyedValue(stat, "anon"), 1208320u);
  EXPECT_EQ(KeyedValue(stat, "kernel"), 962560u);  // not kernel_stack
  EXPECT_EQ(KeyedValue(stat, "kernel_stack"), 65536u);
  EXPECT_EQ(KeyedValue(stat, "kern"), std::nullopt);
  EXPECT_EQ(KeyedValue(stat, "slab"), std::nullopt);
  EXPECT_EQ(KeyedValue("max 3", "max"), 3u);
  EXPECT_EQ(KeyedValue("max 3x\n", "max"), std::nullopt);
  EXPECT_EQ(KeyedValue("max -1\n", "max"), std::nullopt);
  EXPECT_EQ(KeyedValue("", "max"), std::nullopt);
}

TEST(SingleValue, Table) {
  EXPECT_EQ(SingleValue("12\n"), 12u);
  EXPECT_EQ(SingleValue("0"), 0u);
  EXPECT_EQ(SingleValue("max\n"), std::nullopt);
  EXPECT_EQ(SingleValue("12 13\n"), std::nullopt);
  EXPECT_EQ(SingleValue(""), std::nullopt);
}

TEST(StatusField, Table) {
  const struct {
    const char* text;
    const char* key;
    std::optional<uint64_t> want;
  } cases[] = {
      {kStatus, "Tgid", 26943},
      {kStatus, "Pid", 26950},  // not PPid or TracerPid: keys start a line
      {kStatus, "PPid", 26940},
      {kStatus, "VmLck", 0},
      {kStatus, "VmRSS", 1764},
      {kStatus, "VmData", 224},
      {kStatus, "Threads", 2},
      {kStatus, "Umask", 22},  // decimal: the octal umask is not a field for this
      {kStatus, "Name", std::nullopt},
      {kStatus, "State", std::nullopt},
      {kStatus, "Uid", std::nullopt},     // several values
      {kStatus, "Groups", std::nullopt},  // none
      {kStatus, "Tgi", std::nullopt},     // a prefix of a key is not the key
      {kStatus, "VmSwap", std::nullopt},  // missing
      {kStatus, "", std::nullopt},
      {"Tgid:\t7", "Tgid", 7},  // the first line, no newline
      {"Name:\tx\r\nTgid:\t7\r\n", "Tgid", 7},
      {"Tgid: 7\n", "Tgid", 7},
      {"Tgid:7\n", "Tgid", 7},
      {"", "Tgid", std::nullopt},
      {"Tgid:\n", "Tgid", std::nullopt},
      {"Tgid:\t\n", "Tgid", std::nullopt},
      {"Tgid:\t12x\n", "Tgid", std::nullopt},
      {"Tgid:\t-12\n", "Tgid", std::nullopt},
      {"Tgid:\t12 \n", "Tgid", std::nullopt},
      {"VmLck:\t 5 MB\n", "VmLck", std::nullopt},
      {"VmLck:\t 5 kB extra\n", "VmLck", std::nullopt},
      {"Tgid:\t99999999999999999999\n", "Tgid", std::nullopt},  // overflow
      {"Tgid:\t18446744073709551615\n", "Tgid", UINT64_MAX},
      {"Name:\tTgid:\t5\n", "Tgid", std::nullopt},  // inside another line
  };
  for (const auto& c : cases) {
    EXPECT_EQ(StatusField(c.text, c.key), c.want) << c.key << " in \"" << c.text << '"';
  }
}

TEST(StatusTgid, Table) {
  const struct {
    const char* text;
    std::optional<int> want;
  } cases[] = {
      {kStatus, 26943},  {"Tgid:\t2147483647\n", INT_MAX}, {"Tgid:\t2147483648\n", std::nullopt},
      {"Tgid:\t0\n", 0}, {"Pid:\t5\n", std::nullopt},      {"", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(StatusTgid(c.text), c.want) << '"' << c.text << '"';
}

// ---------------------------------------------------------------- syscall

ThreadSyscall InCall(int64_t nr, std::array<uint64_t, 6> args) {
  ThreadSyscall s;
  s.nr = nr;
  s.args = args;
  return s;
}

ThreadSyscall Running() {
  ThreadSyscall s;
  s.running = true;
  return s;
}

TEST(ParseThreadSyscall, Table) {
  const struct {
    const char* text;
    std::optional<ThreadSyscall> want;
  } cases[] = {
      {"9 0x0 0x1000 0x3 0x22 0xffffffffffffffff 0x0 0x7ffd0525cbf8 0x7feafa4262ad\n",
       InCall(9, {0, 0x1000, 3, 0x22, UINT64_MAX, 0})},
      {"12 0x55d0f0000000 0x0 0x0 0x0 0x0 0x0 0x7ffd0525cbf8 0x7feafa4262ad",
       InCall(12, {0x55d0f0000000, 0, 0, 0, 0, 0})},
      {"0 0x3 0x7feafa2ae000 0x20000 0x7feafa33db60 0xffffffff 0x0",  // no pointers
       InCall(0, {3, 0x7feafa2ae000, 0x20000, 0x7feafa33db60, 0xffffffff, 0})},
      {"9 0 1000 3 22 ff 0 0 0\n", InCall(9, {0, 0x1000, 3, 0x22, 0xff, 0})},
      {"9 0xA 0xB 0xC 0xD 0xE 0xF 0 0\n", InCall(9, {10, 11, 12, 13, 14, 15})},
      {"-1 0x7ffd0525cbf8 0x7feafa4262ad\n", InCall(-1, {})},
      {"-1\n", InCall(-1, {})},
      {"running\n", Running()},
      {"running", Running()},
      {"", std::nullopt},
      {"\n", std::nullopt},
      {"9 0x0 0x1000 0x3\n", std::nullopt},  // arguments missing
      {"9\n", std::nullopt},
      {"x 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0\n", std::nullopt},
      {"9x 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0\n", std::nullopt},
      {"9 0x0 0xzz 0x0 0x0 0x0 0x0 0x0 0x0\n", std::nullopt},
      {"9 0x0 0x 0x0 0x0 0x0 0x0 0x0 0x0\n", std::nullopt},
      {"9 0x0 0x10000000000000000 0x0 0x0 0x0 0x0 0x0 0x0\n", std::nullopt},  // overflow
      {"-2 0x0 0x0\n", std::nullopt},
      {"99999999999999999999 0x0 0x0 0x0 0x0 0x0 0x0\n", std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ParseThreadSyscall(c.text), c.want) << '"' << c.text << '"';
  }
}

TEST(ProgressFromSyscall, Table) {
  const std::array<uint64_t, 6> args = {0, 0x1000, 3, 0x22, UINT64_MAX, 0};
  const char* const inside =
      "9 0x0 0x1000 0x3 0x22 0xffffffffffffffff 0x0 0x7ffd0525cbf8 0x7feafa4262ad\n";
  const struct {
    const char* what;
    const char* text;
    int nr;
    std::array<uint64_t, 6> args;
    CallProgress want;
  } cases[] = {
      {"blocked in that very call", inside, 9, args, CallProgress::kInside},
      {"on a CPU", "running\n", 9, args, CallProgress::kUnknown},
      {"another call", inside, 10, args, CallProgress::kDone},
      {"the same call with another argument",
       inside,
       9,
       {0, 0x2000, 3, 0x22, UINT64_MAX, 0},
       CallProgress::kDone},
      {"the last argument differs",
       inside,
       9,
       {0, 0x1000, 3, 0x22, UINT64_MAX, 1},
       CallProgress::kDone},
      {"blocked outside any call", "-1 0x7ffd0525cbf8 0x7feafa4262ad\n", 9, args,
       CallProgress::kDone},
      {"outside any call, asked about -1", "-1 0x0 0x0\n", -1, {}, CallProgress::kDone},
      {"empty (the thread is gone)", "", 9, args, CallProgress::kDone},
      {"arguments missing", "9 0x0 0x1000\n", 9, args, CallProgress::kDone},
      {"garbage", "what?\n", 9, args, CallProgress::kDone},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ProgressFromSyscall(c.text, c.nr, c.args), c.want) << c.what;
  }
}

// ---------------------------------------------------------------- pid lists

TEST(AddPids, Table) {
  const struct {
    const char* what;
    const char* text;
    std::set<int> want;
  } cases[] = {
      {"cgroup.procs", "1\n27\n4194304\n", {1, 27, 4194304}},
      {"children", "12 34 ", {12, 34}},
      {"no trailing separator", "5", {5}},
      {"unsorted, repeated", "9\n3\n9\n", {3, 9}},
      {"runs of separators", " \n 4\n\n5  6 ", {4, 5, 6}},
      {"empty", "", {}},
      {"only a newline", "\n", {}},
      {"zero and negative skipped", "0\n-3\n7\n", {7}},
      {"overflow skipped", "2147483648\n8\n", {8}},
      {"garbage token skipped whole", "12a34 9 x\n", {9}},
      {"a '+' is not a pid", "+5 6", {6}},
  };
  for (const auto& c : cases) {
    std::set<int> got;
    AddPids(c.text, &got);
    EXPECT_EQ(got, c.want) << c.what;
  }
}

TEST(AddPids, AddsToWhatIsThere) {
  std::set<int> pids = {1, 100};
  AddPids("1 2\n", &pids);
  EXPECT_EQ(pids, (std::set<int>{1, 2, 100}));
}

TEST(PidListEmpty, Table) {
  const struct {
    const char* text;
    bool want;
  } cases[] = {
      {"", true},        {"\n", true}, {" \n \n", true}, {"12 ", false},
      {"1\n2\n", false}, {"0", false}, {"abc", false},   {" x ", false},
  };
  for (const auto& c : cases) EXPECT_EQ(PidListEmpty(c.text), c.want) << '"' << c.text << '"';
}

TEST(ProcEntryPid, Table) {
  const struct {
    const char* name;
    std::optional<int> want;
  } cases[] = {
      {"1", 1},
      {"4194304", 4194304},
      {"1073741824", 1 << 30},
      {"007", 7},
      {"1073741825", std::nullopt},
      {"99999999999999999999", std::nullopt},
      {"0", std::nullopt},
      {"", std::nullopt},
      {"self", std::nullopt},
      {"thread-self", std::nullopt},
      {"12a", std::nullopt},
      {"-1", std::nullopt},
      {"+1", std::nullopt},
      {" 1", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(ProcEntryPid(c.name), c.want) << '"' << c.name << '"';
}

// ---------------------------------------------------------------- cgroup

CgroupLine Cg(uint32_t id, std::string_view controllers, std::string_view path) {
  return CgroupLine{id, controllers, path};
}

TEST(ParseProcCgroup, Table) {
  const struct {
    const char* what;
    const char* text;
    std::vector<CgroupLine> want;
  } cases[] = {
      {"cgroup v1 with the unified hierarchy",
       "9:name=systemd:/\n"
       "4:memory:/process_api/5a6e\n"
       "2:cpu,cpuacct:/ctr\n"
       "0::/\n",
       {Cg(9, "name=systemd", "/"), Cg(4, "memory", "/process_api/5a6e"),
        Cg(2, "cpu,cpuacct", "/ctr"), Cg(0, "", "/")}},
      {"cgroup2 only", "0::/system.slice/ctr.scope\n", {Cg(0, "", "/system.slice/ctr.scope")}},
      {"no trailing newline", "3:pids:/a", {Cg(3, "pids", "/a")}},
      {"a path with ':'", "3:memory:/a:b:c\n", {Cg(3, "memory", "/a:b:c")}},
      {"an empty path", "3:memory:\n", {Cg(3, "memory", "")}},
      {"blank lines and CRLF", "\n3:pids:/a\r\n\n", {Cg(3, "pids", "/a")}},
      {"empty", "", {}},
  };
  for (const auto& c : cases) {
    Result<std::vector<CgroupLine>> got = ParseProcCgroup(c.text);
    ASSERT_TRUE(got.ok()) << c.what << ": " << got.status().message();
    EXPECT_EQ(*got, c.want) << c.what;
  }
}

TEST(ParseProcCgroup, Errors) {
  const std::pair<const char*, const char*> cases[] = {
      {"garbage\n", "cgroup line 1: invalid hierarchy id \"garbage\""},
      {"x:pids:/a\n", "cgroup line 1: invalid hierarchy id \"x\""},
      {":pids:/a\n", "cgroup line 1: invalid hierarchy id \"\""},
      {"-1:pids:/a\n", "cgroup line 1: invalid hierarchy id \"-1\""},
      {"4294967296:pids:/a\n", "cgroup line 1: invalid hierarchy id \"4294967296\""},
      {"12:pids\n", "cgroup line 1: no path"},
      {"0::/\n\n12:pids\n", "cgroup line 3: no path"},
  };
  for (const auto& [text, message] : cases) {
    Result<std::vector<CgroupLine>> got = ParseProcCgroup(text);
    ASSERT_FALSE(got.ok()) << text;
    EXPECT_EQ(got.status().message(), message) << text;
  }
}

// ---------------------------------------------------------------- mountinfo

TEST(ParseMountInfoLine, Table) {
  const struct {
    const char* what;
    const char* line;
    std::optional<MountInfoLine> want;
  } cases[] = {
      {"optional fields",
       "25 22 0:22 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 "
       "rw,nsdelegate\n",
       MountInfoLine{"/", "/sys/fs/cgroup", "cgroup2", "cgroup2", "rw,nsdelegate"}},
      {"no optional fields", "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
       MountInfoLine{"/", "/sys/fs/cgroup/cpu", "cgroup", "cgroup", "rw,cpu"}},
      {"several optional fields",
       "40 25 0:40 /docker/abc /mnt/x rw shared:1 master:2 propagate_from:3 - cgroup cg rw,pids",
       MountInfoLine{"/docker/abc", "/mnt/x", "cgroup", "cg", "rw,pids"}},
      {"no super options", "41 31 0:38 / /u rw - cgroup2 none\n",
       MountInfoLine{"/", "/u", "cgroup2", "none", ""}},
      {"an escaped space stays escaped", "50 22 8:1 / /mnt/a\\040b rw - ext4 /dev/sda1 rw\n",
       MountInfoLine{"/", "/mnt/a\\040b", "ext4", "/dev/sda1", "rw"}},
      {"what follows the super options is not read", "1 2 3:4 / /m rw - t s o extra",
       MountInfoLine{"/", "/m", "t", "s", "o"}},
      {"empty", "", std::nullopt},
      {"newline only", "\n", std::nullopt},
      {"fixed fields missing", "25 22 0:22 / /sys/fs/cgroup\n", std::nullopt},
      {"the separator taken for mount options", "22 1 8:1 / / - ext4 /dev/sda1 rw\n", std::nullopt},
      {"no separator", "25 22 0:22 / /sys/fs/cgroup rw shared:9 cgroup2 cgroup2 rw\n",
       std::nullopt},
      {"nothing after the separator", "25 22 0:22 / /sys/fs/cgroup rw -\n", std::nullopt},
      {"no source", "25 22 0:22 / /sys/fs/cgroup rw - cgroup2\n", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(ParseMountInfoLine(c.line), c.want) << c.what;
}

// A host with cgroup v1 and the unified hierarchy beside it; a bind mount of
// a subtree comes first, and a garbled line.
constexpr const char* kMountInfo =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
    "31 22 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "60 22 0:32 /docker/abc /mnt/memory-of-abc rw - cgroup cgroup rw,memory\n"
    "61 22 0:40 /sub /mnt/unified-sub rw - cgroup2 cgroup2 rw\n"
    "garbled\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:12 - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "42 31 0:39 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
    "43 31 0:39 / /mnt/second-pids rw - cgroup cgroup rw,pids\n";

TEST(CgroupMountPoint, Table) {
  const struct {
    const char* mountinfo;
    const char* controllers;
    std::optional<std::string_view> want;
  } cases[] = {
      {kMountInfo, "memory", "/sys/fs/cgroup/memory"},  // not the bind mount of a subtree
      {kMountInfo, "pids", "/sys/fs/cgroup/pids"},      // the first of two
      {kMountInfo, "cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct"},
      {kMountInfo, "cpuacct,cpu", "/sys/fs/cgroup/cpu,cpuacct"},
      {kMountInfo, "cpu", "/sys/fs/cgroup/cpu,cpuacct"},
      {kMountInfo, "cpu,", "/sys/fs/cgroup/cpu,cpuacct"},  // no empty controller
      {kMountInfo, "net_prio", "/sys/fs/cgroup/net_cls,net_prio"},
      {kMountInfo, "name=systemd", "/sys/fs/cgroup/systemd"},
      {kMountInfo, "", "/sys/fs/cgroup/unified"},  // cgroup2 mounted at its root
      {kMountInfo, "pid", std::nullopt},           // a prefix of a controller
      {kMountInfo, "ids", std::nullopt},
      {kMountInfo, "cpu,memory", std::nullopt},  // not one hierarchy
      {kMountInfo, "cpuset", std::nullopt},
      {kMountInfo, "rw", "/sys/fs/cgroup/cpu,cpuacct"},  // any super option counts
      {kMountInfo, "tmpfs", std::nullopt},
      {"25 22 0:22 / /sys/fs/cgroup rw shared:9 - cgroup2 cgroup2 rw,nsdelegate", "",
       "/sys/fs/cgroup"},
      {"25 22 0:22 / /sys/fs/cgroup rw shared:9 - cgroup2 cgroup2 rw,nsdelegate", "memory",
       std::nullopt},
      {"32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu", "", std::nullopt},
      {"", "", std::nullopt},
      {"", "memory", std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(CgroupMountPoint(c.mountinfo, c.controllers), c.want)
        << '"' << c.controllers << "\" in \"" << c.mountinfo << '"';
  }
}

TEST(FsTypeAt, TheTopmostMountAtThePathWins) {
  const std::string mountinfo =
      "22 1 0:21 / /run rw - tmpfs tmpfs rw\n"
      "90 22 0:50 / /run/ubc/proc rw,nosuid - fuse.other other rw\n"
      "91 90 0:51 / /run/ubc/proc rw,nosuid - fuse.ubc ubc rw,user_id=0\n"
      "92 22 0:52 / /run/a\\040b rw - fuse.ubc ubc rw\n"
      "garbage\n";
  EXPECT_EQ(FsTypeAt(mountinfo, "/run/ubc/proc"), "fuse.ubc");
  EXPECT_EQ(FsTypeAt(mountinfo, "/run/a b"), "fuse.ubc");
  EXPECT_EQ(FsTypeAt(mountinfo, "/run"), "tmpfs");
  EXPECT_EQ(FsTypeAt(mountinfo, "/run/ubc"), "");
  EXPECT_EQ(FsTypeAt("", "/"), "");
}

TEST(UnescapeMountField, OctalEscapesOnly) {
  EXPECT_EQ(UnescapeMountField("a\\040b\\011c\\134d"), "a b\tc\\d");
  EXPECT_EQ(UnescapeMountField("end\\04"), "end\\04");
  EXPECT_EQ(UnescapeMountField("x\\9yz"), "x\\9yz");
}

}  // namespace
}  // namespace ubc
