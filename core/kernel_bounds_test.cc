#include "core/kernel_bounds.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "core/units.h"

namespace ubc {
namespace {

using nlohmann::json;

constexpr uint64_t kMiB = uint64_t{1} << 20;

const BarrierLimit kUnlimitedShm{kUnlimitedPages, kUnlimitedPages};

KernelBounds For(uint64_t limit_pages, KernelBoundsSettings settings = {}) {
  return KernelBoundsFor(BarrierLimit{limit_pages / 2, limit_pages}, kUnlimitedShm, settings);
}

json Rlimit(const json& doc, const std::string& type) {
  for (const json& r : doc.at("process").at("rlimits")) {
    if (r.at("type") == type) return r;
  }
  return nullptr;
}

TEST(KernelBoundsForTest, DerivesEachBoundFromTheLimit) {
  const KernelBounds b = For(131072);  // 512 MiB
  EXPECT_EQ(b.data_bytes, 512 * kMiB);
  EXPECT_EQ(b.stack_bytes, 8 * kMiB);
  EXPECT_EQ(b.tmpfs_bytes, 512 * kMiB);
  EXPECT_EQ(b.memory_bytes, 2 * 512 * kMiB + 64 * kMiB);
}

TEST(KernelBoundsForTest, AFiniteShmpagesLimitIsTheSharedPartOfTheMemoryCgroup) {
  const BarrierLimit privvm{65536, 65536};  // 256 MiB
  const KernelBounds b = KernelBoundsFor(privvm, BarrierLimit{4096, 8192}, {});
  EXPECT_EQ(b.memory_bytes, 256 * kMiB + 32 * kMiB + 64 * kMiB);
  EXPECT_EQ(b.data_bytes, 256 * kMiB);  // the private bounds do not change
  EXPECT_EQ(b.tmpfs_bytes, 256 * kMiB);
  EXPECT_EQ(KernelBoundsFor(privvm, BarrierLimit{0, 0}, {}).memory_bytes, 320 * kMiB);
  // Unlimited shmpages: the privvmpages limit again for shared memory.
  EXPECT_EQ(KernelBoundsFor(privvm, kUnlimitedShm, {}).memory_bytes, 576 * kMiB);
  // Unlimited privvmpages bounds nothing, whatever shmpages says.
  EXPECT_FALSE(KernelBoundsFor(kUnlimitedShm, BarrierLimit{1, 1}, {}).memory_bytes);
}

TEST(KernelBoundsForTest, DataRlimitNeverBelowTheFloorTheRuntimeNeeds) {
  const KernelBounds b = For(20480);  // 80 MiB
  EXPECT_EQ(b.data_bytes, 256 * kMiB);
  EXPECT_EQ(b.tmpfs_bytes, 80 * kMiB);  // the others follow the limit
  EXPECT_EQ(b.memory_bytes, 2 * 80 * kMiB + 64 * kMiB);
  KernelBoundsSettings no_floor;
  no_floor.data_floor_bytes = 0;
  EXPECT_EQ(For(20480, no_floor).data_bytes, 80 * kMiB);
}

TEST(KernelBoundsForTest, StackNeverAboveTheDataBound) {
  KernelBoundsSettings no_floor;
  no_floor.data_floor_bytes = 0;
  EXPECT_EQ(For(1024, no_floor).stack_bytes, 4 * kMiB);  // a 4 MiB limit
  EXPECT_EQ(For(1024).stack_bytes, 8 * kMiB);
}

TEST(KernelBoundsForTest, MemoryCgroupCanBeLeftAlone) {
  KernelBoundsSettings s;
  s.memory_cgroup = false;
  const KernelBounds b = For(20480, s);
  EXPECT_FALSE(b.memory_bytes.has_value());
  EXPECT_TRUE(b.data_bytes.has_value());
}

TEST(KernelBoundsForTest, SettingsChangeStackAndMargin) {
  KernelBoundsSettings s;
  s.stack_bytes = 16 * kMiB;
  s.memory_margin_bytes = 0;
  const KernelBounds b = For(65536, s);
  EXPECT_EQ(b.stack_bytes, 16 * kMiB);
  EXPECT_EQ(b.memory_bytes, 512 * kMiB);
}

TEST(KernelBoundsForTest, UnlimitedOrDisabledBoundsNothing) {
  const KernelBounds unlimited = For(kUnlimitedPages);
  EXPECT_FALSE(unlimited.data_bytes || unlimited.stack_bytes || unlimited.tmpfs_bytes ||
               unlimited.memory_bytes);
  // Too big to be bytes in an int64: the same as unlimited.
  EXPECT_FALSE(For(kUnlimitedPages - 1).data_bytes);
  KernelBoundsSettings off;
  off.enabled = false;
  const KernelBounds disabled = For(20480, off);
  EXPECT_FALSE(disabled.data_bytes || disabled.stack_bytes || disabled.tmpfs_bytes ||
               disabled.memory_bytes);
}

TEST(KernelBoundsForTest, MemoryBoundLeftOutWhenItWouldOverflowAnInt64) {
  const KernelBounds b = For((uint64_t{1} << 50));  // 2^62 bytes: twice is beyond int64
  EXPECT_TRUE(b.data_bytes.has_value());
  EXPECT_FALSE(b.memory_bytes.has_value());
}

json RuncLikeConfig() {
  return json::parse(R"({
    "process": {"args": ["sh"], "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]},
    "mounts": [
      {"destination": "/proc", "type": "proc", "source": "proc"},
      {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
       "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
      {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]},
      {"destination": "/big", "type": "tmpfs", "source": "tmpfs", "options": ["size=1g", "mode=1777"]},
      {"destination": "/half", "type": "tmpfs", "source": "tmpfs", "options": ["size=50%"]},
      {"destination": "/blocks", "type": "tmpfs", "source": "tmpfs", "options": ["nr_blocks=100"]},
      {"destination": "/data", "type": "bind", "source": "/srv", "options": ["rbind"]}
    ],
    "linux": {"namespaces": [{"type": "mount"}]}
  })");
}

TEST(ApplyKernelBoundsTest, AddsRlimitsKeepingTheOthers) {
  json doc = RuncLikeConfig();
  ASSERT_TRUE(ApplyKernelBounds(doc, For(20480)).ok());
  EXPECT_EQ(Rlimit(doc, "RLIMIT_NOFILE"),
            json::parse(R"({"type":"RLIMIT_NOFILE","hard":1024,"soft":1024})"));
  EXPECT_EQ(Rlimit(doc, "RLIMIT_DATA").at("hard"), 256 * kMiB);
  EXPECT_EQ(Rlimit(doc, "RLIMIT_DATA").at("soft"), 256 * kMiB);
  EXPECT_EQ(Rlimit(doc, "RLIMIT_STACK").at("hard"), 8 * kMiB);
  EXPECT_EQ(Rlimit(doc, "RLIMIT_STACK").at("soft"), 8 * kMiB);
}

TEST(ApplyKernelBoundsTest, LowersLooserRlimitsAndKeepsTighterOnes) {
  json doc = RuncLikeConfig();
  doc["process"]["rlimits"] = json::parse(R"([
    {"type": "RLIMIT_STACK", "hard": 18446744073709551615, "soft": 67108864},
    {"type": "RLIMIT_DATA", "hard": 1048576, "soft": 524288}
  ])");
  ASSERT_TRUE(ApplyKernelBounds(doc, For(20480)).ok());
  EXPECT_EQ(doc["process"]["rlimits"].size(), 2u);
  EXPECT_EQ(Rlimit(doc, "RLIMIT_STACK").at("hard"), 8 * kMiB);
  EXPECT_EQ(Rlimit(doc, "RLIMIT_STACK").at("soft"), 8 * kMiB);  // soft never above hard
  EXPECT_EQ(Rlimit(doc, "RLIMIT_DATA").at("hard"), 1048576u);
  EXPECT_EQ(Rlimit(doc, "RLIMIT_DATA").at("soft"), 524288u);
}

TEST(ApplyKernelBoundsTest, BoundsEveryTmpfsThatCanHoldMore) {
  json doc = RuncLikeConfig();
  ASSERT_TRUE(ApplyKernelBounds(doc, For(20480)).ok());
  const json& m = doc["mounts"];
  EXPECT_EQ(m[0], RuncLikeConfig()["mounts"][0]);  // proc
  EXPECT_EQ(m[1]["options"], json::parse(R"(["nosuid","strictatime","mode=755","size=65536k"])"));
  EXPECT_EQ(m[2]["options"], json::parse(R"(["nosuid","size=83886080"])"));
  EXPECT_EQ(m[3]["options"], json::parse(R"(["mode=1777","size=83886080"])"));
  EXPECT_EQ(m[4]["options"], json::parse(R"(["size=83886080"])"));  // 50% of RAM is unknown here
  EXPECT_EQ(m[5]["options"], json::parse(R"(["nr_blocks=100"])"));  // 400 KiB
  EXPECT_EQ(m[6], RuncLikeConfig()["mounts"][6]);  // a bind mount is not ours to size
}

TEST(ApplyKernelBoundsTest, TmpfsWithoutOptionsAndSizeZeroAreUnbounded) {
  json doc = json::parse(R"({"mounts": [
      {"destination": "/a", "type": "tmpfs", "source": "tmpfs"},
      {"destination": "/b", "type": "tmpfs", "source": "tmpfs", "options": ["size=0"]},
      {"destination": "/c", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "size=2g"]}
    ], "linux": {}})");
  ASSERT_TRUE(ApplyKernelBounds(doc, For(20480)).ok());
  for (const json& m : doc["mounts"]) EXPECT_EQ(m["options"], json::parse(R"(["size=83886080"])"));
}

TEST(ApplyKernelBoundsTest, SetsTheMemoryCgroupLimitUnlessTighter) {
  json doc = RuncLikeConfig();
  ASSERT_TRUE(ApplyKernelBounds(doc, For(20480)).ok());
  EXPECT_EQ(doc["linux"]["resources"]["memory"]["limit"], 224 * kMiB);
  EXPECT_EQ(doc["linux"]["namespaces"], RuncLikeConfig()["linux"]["namespaces"]);

  json tight = RuncLikeConfig();
  tight["linux"]["resources"] =
      json::parse(R"({"memory": {"limit": 1048576}, "pids": {"limit": 5}})");
  ASSERT_TRUE(ApplyKernelBounds(tight, For(20480)).ok());
  EXPECT_EQ(tight["linux"]["resources"]["memory"]["limit"], 1048576);
  EXPECT_EQ(tight["linux"]["resources"]["pids"]["limit"], 5);

  json unlimited = RuncLikeConfig();
  unlimited["linux"]["resources"] = json::parse(R"({"memory": {"limit": -1, "swap": -1}})");
  ASSERT_TRUE(ApplyKernelBounds(unlimited, For(20480)).ok());
  EXPECT_EQ(unlimited["linux"]["resources"]["memory"]["limit"], 224 * kMiB);

  // runc refuses a memory limit above memory+swap: the smaller swap is the bound.
  json swap = RuncLikeConfig();
  swap["linux"]["resources"] = json::parse(R"({"memory": {"swap": 104857600}})");
  ASSERT_TRUE(ApplyKernelBounds(swap, For(20480)).ok());
  EXPECT_EQ(swap["linux"]["resources"]["memory"]["limit"], 104857600);
}

TEST(ApplyKernelBoundsTest, ApplyingTwiceChangesNothing) {
  json doc = RuncLikeConfig();
  ASSERT_TRUE(ApplyKernelBounds(doc, For(20480)).ok());
  json again = doc;
  ASSERT_TRUE(ApplyKernelBounds(again, For(20480)).ok());
  EXPECT_EQ(again, doc);
}

TEST(ApplyKernelBoundsTest, NothingToBoundLeavesTheConfigAlone) {
  json doc = RuncLikeConfig();
  ASSERT_TRUE(ApplyKernelBounds(doc, For(kUnlimitedPages)).ok());
  EXPECT_EQ(doc, RuncLikeConfig());
}

TEST(ApplyKernelBoundsTest, MalformedFieldsAreNamedAndLeaveTheConfigUnchanged) {
  struct Case {
    const char* doc;
    const char* error;
  };
  const Case cases[] = {
      {R"({"process": [], "linux": {}})", "process: not an object"},
      {R"({"process": {"rlimits": {}}, "linux": {}})", "process.rlimits: not an array"},
      {R"({"process": {"rlimits": [3]}, "linux": {}})", "process.rlimits[0]: not an object"},
      {R"({"process": {"rlimits": [{"hard": 1, "soft": 1}]}, "linux": {}})",
       "process.rlimits[0].type: missing or not a string"},
      {R"({"process": {"rlimits": [{"type": "RLIMIT_DATA", "hard": -1, "soft": 1}]}, "linux": {}})",
       "process.rlimits[0].hard: missing or not a non-negative integer"},
      {R"({"process": {"rlimits": [{"type": "RLIMIT_STACK", "hard": 1}]}, "linux": {}})",
       "process.rlimits[0].soft: missing or not a non-negative integer"},
      {R"({"mounts": {}, "linux": {}})", "mounts: not an array"},
      {R"({"mounts": ["x"], "linux": {}})", "mounts[0]: not an object"},
      {R"({"mounts": [{"type": "tmpfs", "options": "size=1g"}], "linux": {}})",
       "mounts[0].options: not an array"},
      {R"({"mounts": [{"type": "tmpfs", "options": [1]}], "linux": {}})",
       "mounts[0].options[0]: not a string"},
      {R"({})", "linux: missing or not an object"},
      {R"({"linux": {"resources": []}})", "linux.resources: not an object"},
      {R"({"linux": {"resources": {"memory": 5}}})", "linux.resources.memory: not an object"},
      {R"({"linux": {"resources": {"memory": {"limit": "1g"}}}})",
       "linux.resources.memory.limit: not an integer"},
  };
  for (const Case& c : cases) {
    json doc = json::parse(c.doc);
    const json before = doc;
    Status s = ApplyKernelBounds(doc, For(20480));
    EXPECT_FALSE(s.ok()) << c.doc;
    EXPECT_EQ(s.message(), c.error) << c.doc;
    EXPECT_EQ(doc, before) << c.doc;
  }
}

TEST(KernelBoundsForTest, AFiniteNumprocLimitBoundsThePidsCgroup) {
  const BarrierLimit unlimited{kUnlimitedPages, kUnlimitedPages};
  EXPECT_EQ(KernelBoundsFor(unlimited, unlimited, {}, BarrierLimit{60, 64}).pids_limit, 64);
  EXPECT_EQ(KernelBoundsFor(unlimited, unlimited, {}, BarrierLimit{0, 0}).pids_limit, 1);
  EXPECT_FALSE(KernelBoundsFor(unlimited, unlimited, {}, unlimited).pids_limit);
  EXPECT_FALSE(KernelBoundsFor(unlimited, unlimited, {}).pids_limit);
  KernelBoundsSettings off;
  off.enabled = false;
  EXPECT_FALSE(KernelBoundsFor(unlimited, unlimited, off, BarrierLimit{8, 8}).pids_limit);
}

TEST(ApplyKernelBoundsTest, PidsLimitKeepsATighterOneAndReplacesUnlimited) {
  KernelBounds b;
  b.pids_limit = 64;
  const struct {
    const char* doc;
    int64_t want;
  } cases[] = {
      {R"({"linux": {}})", 64},
      {R"({"linux": {"resources": {"pids": {"limit": 10}}}})", 10},
      {R"({"linux": {"resources": {"pids": {"limit": 100}}}})", 64},
      {R"({"linux": {"resources": {"pids": {"limit": -1}}}})", 64},
      {R"({"linux": {"resources": {"pids": {"limit": 0}}}})", 64},
      {R"({"linux": {"resources": {"pids": {}}}})", 64},
  };
  for (const auto& c : cases) {
    json doc = json::parse(c.doc);
    ASSERT_TRUE(ApplyKernelBounds(doc, b).ok()) << c.doc;
    EXPECT_EQ(doc["linux"]["resources"]["pids"]["limit"], c.want) << c.doc;
  }
  for (const char* bad : {R"({"linux": {"resources": {"pids": 3}}})",
                          R"({"linux": {"resources": {"pids": {"limit": "9"}}}})"}) {
    json doc = json::parse(bad);
    const json before = doc;
    const Status s = ApplyKernelBounds(doc, b);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.message().find("linux.resources.pids"), std::string::npos) << s.message();
    EXPECT_EQ(doc, before);
  }
}

TEST(ParseTmpfsSizeBytesTest, TheKernelsSuffixes) {
  EXPECT_EQ(ParseTmpfsSizeBytes("4096"), 4096u);
  EXPECT_EQ(ParseTmpfsSizeBytes("65536k"), 64 * kMiB);
  EXPECT_EQ(ParseTmpfsSizeBytes("64M"), 64 * kMiB);
  EXPECT_EQ(ParseTmpfsSizeBytes("1g"), 1024 * kMiB);
  EXPECT_EQ(ParseTmpfsSizeBytes("2T"), uint64_t{2} << 40);
  EXPECT_EQ(ParseTmpfsSizeBytes("1e"), uint64_t{1} << 60);
  EXPECT_FALSE(ParseTmpfsSizeBytes("50%"));
  EXPECT_FALSE(ParseTmpfsSizeBytes(""));
  EXPECT_FALSE(ParseTmpfsSizeBytes("m"));
  EXPECT_FALSE(ParseTmpfsSizeBytes("12mb"));
  EXPECT_FALSE(ParseTmpfsSizeBytes("-1"));
  EXPECT_FALSE(ParseTmpfsSizeBytes("16e"));  // overflows 64 bits
}

}  // namespace
}  // namespace ubc
