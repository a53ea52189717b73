#include "core/seccomp_profile_merge.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/seccomp_profile_model.h"
#include "core/trap_expectation.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Args = std::array<uint64_t, 6>;

const fs::path kRoot = UBC_SOURCE_ROOT;
constexpr char kListener[] = "/run/ubc/ubcd.sock";
constexpr char kContainersCommonProfile[] = "/usr/share/containers/seccomp.json";

json ReadJson(const fs::path& path) {
  json doc = json::parse(ReadFileForTest(path), nullptr, false);
  EXPECT_FALSE(doc.is_discarded()) << path;
  return doc;
}

json MustMerge(const json* profile) {
  Result<json> merged = MergeUbcNotifyRules(profile, kListener);
  EXPECT_TRUE(merged.ok()) << merged.status().message();
  return merged.ok() ? *merged : json();
}

std::string MergeError(const json& profile, std::string_view listener = kListener) {
  Result<json> merged = MergeUbcNotifyRules(&profile, listener);
  EXPECT_FALSE(merged.ok()) << merged->dump(2);
  return merged.ok() ? "" : merged.status().message();
}

SeccompProfileModel MustModel(const json& profile) {
  Result<SeccompProfileModel> model = SeccompProfileModel::Create(profile);
  EXPECT_TRUE(model.ok()) << model.status().message();
  return model.ok() ? *model : *SeccompProfileModel::Create(json());
}

// ---- the profiles ----

json ContainersCommonProfileAsPodmanGivesIt(const std::set<std::string>& caps) {
  // Never skipped: the package golang-github-containers-common is a build
  // dependency of this test, and a missing file must fail it.
  if (!fs::exists(kContainersCommonProfile)) {
    ADD_FAILURE() << kContainersCommonProfile
                  << " is missing: install golang-github-containers-common";
    return json();
  }
  json profile = ReadJson(kContainersCommonProfile);
  return ConvertLikePodman(profile, caps);
}

// ---- the equivalence check ----

std::vector<Args> MemoryGrid(const std::string& syscall) {
  std::vector<Args> grid;
  if (syscall == "mmap" || syscall == "mprotect") {
    for (uint64_t addr : {0ull, 0x7f0000000000ull}) {
      for (uint64_t prot : {0, 1, 2, 3, 7}) {
        for (uint64_t flags :
             {0x01, 0x02, 0x03, 0x22, 0x21, 0x12, 0x32, 0x4022, 0x2001, 0x2022, 0x2102}) {
          grid.push_back({addr, 4096, prot, flags, ~0ull, 0});
          grid.push_back({addr, 1 << 20, prot, flags, 3, 4096});
        }
      }
    }
  } else if (syscall == "brk") {
    grid = {{0, 0, 0, 0, 0, 0}, {0x555555559000, 0, 0, 0, 0, 0}, {1, 0, 0, 0, 0, 0}};
  } else if (syscall == "clone") {
    // SIGCHLD fork, glibc fork, pthread_create, vfork-like, and namespaces.
    for (uint64_t flags : {0x11ull, 0x01200011ull, 0x3d0f00ull, 0x4111ull, 0x10000011ull,
                           0x10000111ull, 0x20000011ull, 0x100ull, 0ull}) {
      grid.push_back({flags, 0, 0, 0, 0, 0});
      grid.push_back({flags, 0x7f0000001000, 0, 0, 0, 0});
    }
  } else {
    grid = {{0, 0, 0, 0, 0, 0}, {0x7f0000000000, 4096, 8192, 1, 0, 0}, {1, 2, 3, 4, 5, 6}};
  }
  return grid;
}

std::vector<Args> GeneralGrid() {
  std::vector<Args> grid = {
      {0, 0, 0, 0, 0, 0}, {16, 0, 9, 0, 0, 0}, {16, 0, 1, 0, 0, 0}, {2, 0, 9, 0, 0, 0}};
  for (size_t i = 0; i < 6; ++i) {
    for (uint64_t v : {1ull, 2ull, 8ull, 9ull, 16ull, 0x100ull, 131072ull, 131080ull, 0xffffffffull,
                       0x7e020000ull}) {
      Args a{};
      a[i] = v;
      grid.push_back(a);
    }
  }
  return grid;
}

// Checks `merged` against `original` call by call. `coarse` names the syscalls
// where a whole allowing rule may notify (non-accountable calls included).
void ExpectSameDecisionsPlusNotify(const json& original, const json& merged,
                                   const std::set<std::string>& coarse = {}) {
  SeccompProfileModel before = MustModel(original);
  SeccompProfileModel after = MustModel(merged);
  std::set<std::string> names;
  for (const std::string& n : before.NamedSyscalls()) names.insert(n);
  for (const std::string& n : TrappedSyscallNames()) names.insert(n);
  names.insert("vfork");
  names.insert("munmap");
  names.insert("not_a_syscall");
  int checked = 0;
  for (const std::string& name : names) {
    const bool memory = TrappedSyscallNames().count(name) != 0;
    const std::vector<Args> grid = memory || name == "vfork" ? MemoryGrid(name) : GeneralGrid();
    for (const Args& args : grid) {
      ++checked;
      const SeccompDecision was = before.Evaluate(name, args);
      const SeccompDecision is = after.Evaluate(name, args);
      std::ostringstream where;
      where << name << "(" << std::hex;
      for (uint64_t a : args) where << "0x" << a << ",";
      where << ") was " << was << ", is " << is;
      if (!memory) {
        EXPECT_EQ(is, was) << where.str();
        continue;
      }
      if (!was.ambiguous) {
        EXPECT_FALSE(is.ambiguous) << where.str();
      }
      if (!was.Allows()) {
        EXPECT_EQ(is, was) << where.str();
      } else if (name == "clone3") {
        EXPECT_EQ(is, (SeccompDecision{"SCMP_ACT_ERRNO", 38})) << where.str();
      } else if (MustNotify(name, args)) {
        EXPECT_EQ(is.action, "SCMP_ACT_NOTIFY") << where.str();
      } else if (coarse.count(name) && is.action == "SCMP_ACT_NOTIFY") {
        // allowed: ubcd continues it
      } else {
        EXPECT_EQ(is, was) << where.str();
      }
    }
  }
  EXPECT_GT(checked, 400);
}

void ExpectIdempotent(const json& merged) {
  json again = MustMerge(&merged);
  EXPECT_EQ(again, merged) << "first:\n" << merged.dump(2) << "\nsecond:\n" << again.dump(2);
}

std::vector<json> RulesFor(const json& profile, const std::string& syscall) {
  std::vector<json> out;
  for (const json& r : profile["syscalls"]) {
    for (const json& n : r["names"]) {
      if (n == syscall) out.push_back(r);
    }
  }
  return out;
}

// ---- the model itself ----

TEST(SeccompProfileModelTest, DefaultAndSimpleRules) {
  SeccompProfileModel m = MustModel(json::parse(R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
    "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                 {"names": ["ptrace"], "action": "SCMP_ACT_KILL"},
                 {"names": ["chroot"], "action": "SCMP_ACT_ERRNO"}]})"));
  EXPECT_EQ(m.Evaluate("read", {}), (SeccompDecision{"SCMP_ACT_ALLOW"}));
  EXPECT_EQ(m.Evaluate("write", {}), (SeccompDecision{"SCMP_ACT_ERRNO", 38}));
  EXPECT_EQ(m.Evaluate("ptrace", {}), (SeccompDecision{"SCMP_ACT_KILL_THREAD"}));
  EXPECT_EQ(m.Evaluate("chroot", {}), (SeccompDecision{"SCMP_ACT_ERRNO", 1}));
}

TEST(SeccompProfileModelTest, ArgumentOperators) {
  SeccompProfileModel m = MustModel(json::parse(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [
      {"names": ["a"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 5, "op": "SCMP_CMP_NE"}]},
      {"names": ["b"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 5, "op": "SCMP_CMP_LT"}]},
      {"names": ["c"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 5, "op": "SCMP_CMP_LE"}]},
      {"names": ["d"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 5, "op": "SCMP_CMP_EQ"}]},
      {"names": ["e"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 5, "op": "SCMP_CMP_GE"}]},
      {"names": ["f"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 5, "op": "SCMP_CMP_GT"}]},
      {"names": ["g"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 6, "valueTwo": 4, "op": "SCMP_CMP_MASKED_EQ"}]}]})"));
  auto allows = [&](const char* s, uint64_t v) { return m.Evaluate(s, {0, v}).Allows(); };
  EXPECT_TRUE(allows("a", 4));
  EXPECT_FALSE(allows("a", 5));
  EXPECT_TRUE(allows("b", 4));
  EXPECT_FALSE(allows("b", 5));
  EXPECT_TRUE(allows("c", 5));
  EXPECT_FALSE(allows("c", 6));
  EXPECT_TRUE(allows("d", 5));
  EXPECT_FALSE(allows("d", 4));
  EXPECT_TRUE(allows("e", 5));
  EXPECT_FALSE(allows("e", 4));
  EXPECT_TRUE(allows("f", 6));
  EXPECT_FALSE(allows("f", 5));
  EXPECT_TRUE(allows("g", 5));
  EXPECT_FALSE(allows("g", 7));
  EXPECT_TRUE(allows("g", 0xffff0004));
}

TEST(SeccompProfileModelTest, RuleWithTheDefaultActionIsSkipped) {
  // runc: "This rule is redundant, silently skip it": the ERRNO(1) rule below
  // is not the default ERRNO(38), so it stays; the ALLOW rule under an ALLOW
  // default is skipped and cannot shadow anything.
  SeccompProfileModel m = MustModel(json::parse(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mmap"], "action": "SCMP_ACT_ALLOW"},
                 {"names": ["mmap"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]})"));
  EXPECT_EQ(m.Evaluate("mmap", {1}).action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(m.Evaluate("mmap", {2}).action, "SCMP_ACT_ALLOW");
}

TEST(SeccompProfileModelTest, FirstUnconditionalRuleOverridesConditionalOnes) {
  // libseccomp's db_rule_add: an unconditional rule replaces a syscall's
  // conditional chains, and conditional rules added after it are dropped.
  SeccompProfileModel m = MustModel(json::parse(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [{"names": ["mmap"], "action": "SCMP_ACT_NOTIFY", "args": [{"index": 2, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]},
                 {"names": ["mmap"], "action": "SCMP_ACT_ALLOW"},
                 {"names": ["mmap"], "action": "SCMP_ACT_KILL"},
                 {"names": ["brk"], "action": "SCMP_ACT_ALLOW"},
                 {"names": ["brk"], "action": "SCMP_ACT_NOTIFY", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_NE"}]}]})"));
  EXPECT_EQ(m.Evaluate("mmap", {0, 0, 3, 0x22}), (SeccompDecision{"SCMP_ACT_ALLOW"}));
  EXPECT_EQ(m.Evaluate("brk", {1}), (SeccompDecision{"SCMP_ACT_ALLOW"}));
}

TEST(SeccompProfileModelTest, RepeatedArgumentIndexIsAnOr) {
  SeccompProfileModel m = MustModel(json::parse(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                  "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]})"));
  EXPECT_TRUE(m.Evaluate("personality", {0}).Allows());
  EXPECT_TRUE(m.Evaluate("personality", {8}).Allows());
  EXPECT_FALSE(m.Evaluate("personality", {9}).Allows());
}

TEST(SeccompProfileModelTest, DisagreeingConditionalRulesAreAmbiguous) {
  SeccompProfileModel m = MustModel(json::parse(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["x"], "action": "SCMP_ACT_LOG", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
                 {"names": ["x"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}]},
                 {"names": ["x"], "action": "SCMP_ACT_LOG", "args": [{"index": 2, "value": 1, "op": "SCMP_CMP_EQ"}]}]})"));
  EXPECT_EQ(m.Evaluate("x", {1, 1}), (SeccompDecision{"SCMP_ACT_ERRNO", 1, true}));
  EXPECT_EQ(m.Evaluate("x", {1, 0, 1}), (SeccompDecision{"SCMP_ACT_LOG"}));
  EXPECT_EQ(m.Evaluate("x", {0, 0, 0}), (SeccompDecision{"SCMP_ACT_ALLOW"}));
}

TEST(SeccompProfileModelTest, NoProfileAllowsEverything) {
  SeccompProfileModel m = MustModel(json());
  EXPECT_EQ(m.Evaluate("mmap", {}), (SeccompDecision{"SCMP_ACT_ALLOW"}));
}

// ---- merging real and realistic profiles ----

TEST(SeccompProfileMergeTest, RealContainersCommonProfileWithPodmanDefaultCaps) {
  const json original = ContainersCommonProfileAsPodmanGivesIt(PodmanDefaultCaps());
  ASSERT_TRUE(original.is_object());
  ASSERT_GT(original["syscalls"].size(), 20u);
  const json merged = MustMerge(&original);
  ExpectSameDecisionsPlusNotify(original, merged);
  ExpectIdempotent(merged);
  EXPECT_EQ(merged["listenerPath"], kListener);
  EXPECT_EQ(merged["defaultAction"], original["defaultAction"]);
  EXPECT_EQ(merged["defaultErrnoRet"], original["defaultErrnoRet"]);
  EXPECT_EQ(merged["architectures"], original["architectures"]);
}

TEST(SeccompProfileMergeTest, RealContainersCommonProfileWithMoreCaps) {
  std::set<std::string> caps = PodmanDefaultCaps();
  caps.insert({"CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_AUDIT_WRITE", "CAP_NET_RAW"});
  const json original = ContainersCommonProfileAsPodmanGivesIt(caps);
  ASSERT_TRUE(original.is_object());
  const json merged = MustMerge(&original);
  ExpectSameDecisionsPlusNotify(original, merged);
  ExpectIdempotent(merged);
}

// The shape runc and crun load for podman's profile: the memory syscalls leave
// the big ALLOW rule (where an unconditional ALLOW would silence any NOTIFY),
// and each gets its cells right after it.
TEST(SeccompProfileMergeTest, RealProfileRuleShapes) {
  const json original = ContainersCommonProfileAsPodmanGivesIt(PodmanDefaultCaps());
  ASSERT_TRUE(original.is_object());
  const json merged = MustMerge(&original);
  for (const char* s :
       {"mmap", "mprotect", "brk", "mremap", "clone", "fork", "clone3", "execve", "execveat"}) {
    for (const json& r : RulesFor(merged, s)) {
      EXPECT_EQ(r["names"].size(), 1u) << s << ": " << r.dump();
      EXPECT_TRUE(r.contains("args") || r["action"] == "SCMP_ACT_NOTIFY") << r.dump();
    }
  }
  EXPECT_EQ(RulesFor(merged, "mmap").size(), 8u);
  EXPECT_EQ(RulesFor(merged, "mmap2").size(), 7u);
  for (const char* s : {"mlock", "mlock2", "mlockall", "munlockall", "shmctl"}) {
    const std::vector<json> want = {
        json{{"names", json::array({s})}, {"action", "SCMP_ACT_NOTIFY"}}};
    EXPECT_EQ(RulesFor(merged, s), want) << s;
  }
  EXPECT_GT(RulesFor(merged, "munlock")[0]["names"].size(), 100u);  // untouched
  EXPECT_EQ(
      RulesFor(merged, "mremap"),
      std::vector<json>{json::parse(R"({"names": ["mremap"], "action": "SCMP_ACT_NOTIFY"})")});
  EXPECT_EQ(RulesFor(merged, "fork"),
            std::vector<json>{json::parse(R"({"names": ["fork"], "action": "SCMP_ACT_NOTIFY"})")});
  EXPECT_EQ(
      RulesFor(merged, "execve"),
      std::vector<json>{json::parse(R"({"names": ["execve"], "action": "SCMP_ACT_NOTIFY"})")});
  // clone3 ERRNO(38) is podman's default (defaultErrnoRet 38): no rule needed.
  EXPECT_TRUE(RulesFor(merged, "clone3").empty());
  // vfork and munmap stay in the big rule.
  EXPECT_EQ(RulesFor(merged, "vfork").size(), 1u);
  EXPECT_GT(RulesFor(merged, "vfork")[0]["names"].size(), 100u);
  EXPECT_GT(RulesFor(merged, "munmap")[0]["names"].size(), 100u);
  EXPECT_EQ(
      RulesFor(merged, "shmget"),
      std::vector<json>{json::parse(R"({"names": ["shmget"], "action": "SCMP_ACT_NOTIFY"})")});
  EXPECT_EQ(RulesFor(merged, "ipc"),
            std::vector<json>{json::parse(R"({"names": ["ipc"], "action": "SCMP_ACT_NOTIFY"})")});
  // mmap 8, mmap2 7, mprotect 2, pkey_mprotect 2, brk 2, mremap 1, clone 2,
  // fork 1, execve 1, execveat 1, shmget 1, ipc 1, and 1 each for mlock,
  // mlock2, mlockall, munlockall, shmctl (map_shadow_stack is not allowed by
  // podman's).
  EXPECT_EQ(merged["syscalls"].size(),
            original["syscalls"].size() + 8 + 7 + 2 + 2 + 2 + 1 + 2 + 1 + 1 + 1 + 1 + 1 + 5);
}

TEST(SeccompProfileMergeTest, DockerStyleProfile) {
  const json original = ReadJson(kRoot / "tests/fixtures/hook/seccomp/docker_style.json");
  const json merged = MustMerge(&original);
  ExpectSameDecisionsPlusNotify(original, merged);
  ExpectIdempotent(merged);
  // clone's own mask and CLONE_VM combine into one exact comparison.
  EXPECT_THAT(
      RulesFor(merged, "clone"),
      testing::ElementsAre(json::parse(R"({"names": ["clone"], "action": "SCMP_ACT_NOTIFY", "args":
                      [{"index": 0, "value": 2114060544, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]})"),
                           json::parse(R"({"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args":
                      [{"index": 0, "value": 2114060544, "valueTwo": 256, "op": "SCMP_CMP_MASKED_EQ"}]})")));
  // Denied already: unchanged.
  EXPECT_THAT(RulesFor(merged, "clone3"),
              testing::ElementsAre(json::parse(
                  R"({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38})")));
}

TEST(SeccompProfileMergeTest, PermissiveProfile) {
  const json original = ReadJson(kRoot / "tests/fixtures/hook/seccomp/permissive.json");
  const json merged = MustMerge(&original);
  ExpectSameDecisionsPlusNotify(original, merged);
  ExpectIdempotent(merged);
  EXPECT_EQ(merged["flags"], original["flags"]);
  // mremap stays denied in its shared rule; clone3 gets ENOSYS of its own.
  EXPECT_EQ(RulesFor(merged, "mremap").size(), 1u);
  EXPECT_EQ(RulesFor(merged, "mremap")[0]["action"], "SCMP_ACT_ERRNO");
  EXPECT_THAT(RulesFor(merged, "clone3"),
              testing::ElementsAre(json::parse(
                  R"({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38})")));
  // The ALLOW rule naming mmap was void under the ALLOW default; it keeps its
  // other names.
  EXPECT_EQ(merged["syscalls"][5]["names"], json::array({"read", "write"}));
}

TEST(SeccompProfileMergeTest, NoProfileGetsAllowAllWithNotifyCells) {
  const json merged = MustMerge(nullptr);
  EXPECT_EQ(merged["defaultAction"], "SCMP_ACT_ALLOW");
  EXPECT_EQ(merged["architectures"],
            json::array({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  EXPECT_EQ(merged["listenerPath"], kListener);
  const json expected_syscalls = json::parse(R"([
    {"names": ["mmap"], "action": "SCMP_ACT_NOTIFY", "args": [
      {"index": 0, "value": 9223372036854775808, "valueTwo": 0, "op": "SCMP_CMP_GE"}]},
    {"names": ["mmap"], "action": "SCMP_ACT_NOTIFY", "args": [
      {"index": 0, "value": 9223372036854775808, "valueTwo": 0, "op": "SCMP_CMP_LT"},
      {"index": 2, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"},
      {"index": 3, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["mmap"], "action": "SCMP_ACT_NOTIFY", "args": [
      {"index": 0, "value": 9223372036854775808, "valueTwo": 0, "op": "SCMP_CMP_LT"},
      {"index": 2, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"},
      {"index": 3, "value": 34, "valueTwo": 32, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["mmap"], "action": "SCMP_ACT_NOTIFY", "args": [
      {"index": 0, "value": 9223372036854775808, "valueTwo": 0, "op": "SCMP_CMP_LT"},
      {"index": 2, "value": 2, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"},
      {"index": 3, "value": 256, "valueTwo": 256, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["mmap"], "action": "SCMP_ACT_NOTIFY", "args": [
      {"index": 0, "value": 9223372036854775808, "valueTwo": 0, "op": "SCMP_CMP_LT"},
      {"index": 2, "value": 2, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"},
      {"index": 3, "value": 8448, "valueTwo": 8192, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["mmap"], "action": "SCMP_ACT_NOTIFY", "args": [
      {"index": 0, "value": 9223372036854775808, "valueTwo": 0, "op": "SCMP_CMP_LT"},
      {"index": 2, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"},
      {"index": 3, "value": 8226, "valueTwo": 8192, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["mmap2"], "action": "SCMP_ACT_NOTIFY", "args": [
      {"index": 2, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"},
      {"index": 3, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["mmap2"], "action": "SCMP_ACT_NOTIFY", "args": [
      {"index": 2, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"},
      {"index": 3, "value": 34, "valueTwo": 32, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["mmap2"], "action": "SCMP_ACT_NOTIFY", "args": [
      {"index": 2, "value": 2, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"},
      {"index": 3, "value": 256, "valueTwo": 256, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["mmap2"], "action": "SCMP_ACT_NOTIFY", "args": [
      {"index": 2, "value": 2, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"},
      {"index": 3, "value": 8448, "valueTwo": 8192, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["mmap2"], "action": "SCMP_ACT_NOTIFY", "args": [
      {"index": 2, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"},
      {"index": 3, "value": 8226, "valueTwo": 8192, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["mprotect"], "action": "SCMP_ACT_NOTIFY", "args": [
      {"index": 2, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["pkey_mprotect"], "action": "SCMP_ACT_NOTIFY", "args": [
      {"index": 2, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["map_shadow_stack"], "action": "SCMP_ACT_NOTIFY"},
    {"names": ["brk"], "action": "SCMP_ACT_NOTIFY", "args": [
      {"index": 0, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_NE"}]},
    {"names": ["mremap"], "action": "SCMP_ACT_NOTIFY"},
    {"names": ["clone"], "action": "SCMP_ACT_NOTIFY", "args": [
      {"index": 0, "value": 256, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["fork"], "action": "SCMP_ACT_NOTIFY"},
    {"names": ["execve"], "action": "SCMP_ACT_NOTIFY"},
    {"names": ["execveat"], "action": "SCMP_ACT_NOTIFY"},
    {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
    {"names": ["shmget"], "action": "SCMP_ACT_NOTIFY"},
    {"names": ["ipc"], "action": "SCMP_ACT_NOTIFY"},
    {"names": ["mlock"], "action": "SCMP_ACT_NOTIFY"},
    {"names": ["mlock2"], "action": "SCMP_ACT_NOTIFY"},
    {"names": ["mlockall"], "action": "SCMP_ACT_NOTIFY"},
    {"names": ["munlockall"], "action": "SCMP_ACT_NOTIFY"},
    {"names": ["shmctl"], "action": "SCMP_ACT_NOTIFY"}])");
  EXPECT_EQ(merged["syscalls"], expected_syscalls) << merged["syscalls"].dump(2);
  json null_profile;
  EXPECT_EQ(MustMerge(&null_profile), merged);
  ExpectSameDecisionsPlusNotify(json(), merged);
  ExpectIdempotent(merged);
}

TEST(SeccompProfileMergeTest, AllowingDefaultWithExplicitRulesForMemorySyscalls) {
  const json original = json::parse(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [
      {"names": ["mmap", "munmap"], "action": "SCMP_ACT_LOG"},
      {"names": ["clone"], "action": "SCMP_ACT_LOG", "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]},
      {"names": ["fork"], "action": "SCMP_ACT_ERRNO", "errnoRet": 11}]})");
  const json merged = MustMerge(&original);
  ExpectSameDecisionsPlusNotify(original, merged);
  ExpectIdempotent(merged);
}

TEST(SeccompProfileMergeTest, RuleComparingTheSameArgumentAsACellBecomesOneNotifyRule) {
  // arg3 < 0x100 cannot be intersected with the MAP_* bit tests exactly.
  const json original = json::parse(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [
      {"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 3, "value": 256, "op": "SCMP_CMP_LT"}]},
      {"names": ["brk"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 4096, "op": "SCMP_CMP_GE"}]}]})");
  const json merged = MustMerge(&original);
  ExpectSameDecisionsPlusNotify(original, merged, {"mmap"});
  ExpectIdempotent(merged);
  EXPECT_THAT(RulesFor(merged, "mmap"),
              testing::ElementsAre(json::parse(R"({"names": ["mmap"], "action": "SCMP_ACT_NOTIFY",
                  "args": [{"index": 3, "value": 256, "op": "SCMP_CMP_LT"}]})")));
  // arg0 >= 4096 already excludes brk(0): the rule just becomes a notify rule.
  EXPECT_THAT(RulesFor(merged, "brk"),
              testing::ElementsAre(json::parse(R"({"names": ["brk"], "action": "SCMP_ACT_NOTIFY",
                  "args": [{"index": 0, "value": 4096, "op": "SCMP_CMP_GE"}]})")));
}

TEST(SeccompProfileMergeTest, RuleComparingOtherArgumentsKeepsItsConditions) {
  const json original = json::parse(R"({
    "defaultAction": "SCMP_ACT_KILL_PROCESS",
    "syscalls": [
      {"names": ["mmap", "mprotect"], "action": "SCMP_ACT_ALLOW", "comment": "low addresses",
       "args": [{"index": 0, "value": 4096, "op": "SCMP_CMP_GE"}]},
      {"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 2, "value": 4, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}]})");
  const json merged = MustMerge(&original);
  // mmap's own split at 2^63 cannot be intersected with `addr >= 4096` in
  // one comparison: both of its allowing rules are notified whole.
  ExpectSameDecisionsPlusNotify(original, merged, {"mmap"});
  ExpectIdempotent(merged);
  for (const json& r : RulesFor(merged, "mmap")) EXPECT_EQ(r["action"], "SCMP_ACT_NOTIFY");
  const std::vector<json> mprotect = RulesFor(merged, "mprotect");
  ASSERT_EQ(mprotect.size(), 2u);
  EXPECT_EQ(mprotect[0],
            json::parse(
                R"({"names": ["mprotect"], "action": "SCMP_ACT_NOTIFY", "comment": "low addresses",
      "args": [{"index": 0, "value": 4096, "op": "SCMP_CMP_GE"},
               {"index": 2, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]})"));
}

TEST(SeccompProfileMergeTest, RuleRepeatingAnArgumentIsSplitLikeRuncDoes) {
  const json original = json::parse(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [{"names": ["mprotect"], "action": "SCMP_ACT_ALLOW",
                  "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                           {"index": 0, "value": 140737488355328, "op": "SCMP_CMP_GE"}]}]})");
  const json merged = MustMerge(&original);
  ExpectSameDecisionsPlusNotify(original, merged);
  ExpectIdempotent(merged);
  EXPECT_EQ(RulesFor(merged, "mprotect").size(), 4u);
  for (const json& r : RulesFor(merged, "mprotect")) {
    std::set<int> indices;
    for (const json& a : r["args"])
      EXPECT_TRUE(indices.insert(a["index"].get<int>()).second) << r.dump();
  }
}

TEST(SeccompProfileMergeTest, UnconditionalRuleDominatesAndItsShadowedRulesGo) {
  const json original = json::parse(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [
      {"names": ["mprotect"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [{"index": 2, "value": 4, "valueTwo": 4, "op": "SCMP_CMP_MASKED_EQ"}]},
      {"names": ["mprotect", "read"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["mremap"], "action": "SCMP_ACT_KILL"},
      {"names": ["mremap"], "action": "SCMP_ACT_ALLOW"}]})");
  const json merged = MustMerge(&original);
  ExpectSameDecisionsPlusNotify(original, merged);
  ExpectIdempotent(merged);
  // The shadowed ERRNO(13) rule would start to apply once mprotect's ALLOW
  // becomes conditional: it goes with it.
  EXPECT_EQ(RulesFor(merged, "mprotect").size(), 2u);
  EXPECT_EQ(RulesFor(merged, "mremap").size(), 2u);  // KILL decides; untouched
}

TEST(SeccompProfileMergeTest, OtherFieldsAreKept) {
  const json original = json::parse(R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "architectures": ["SCMP_ARCH_X86_64"], "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
    "listenerMetadata": "meta", "listenerPath": "/run/ubc/ubcd.sock",
    "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]})");
  json merged = MustMerge(&original);
  merged.erase("syscalls");
  json expected = original;
  expected.erase("syscalls");
  EXPECT_EQ(merged, expected);
}

TEST(SeccompProfileMergeTest, EmptyListenerPathIsReplaced) {
  const json original = json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": ""})");
  EXPECT_EQ(MustMerge(&original)["listenerPath"], kListener);
}

TEST(SeccompProfileMergeTest, Errors) {
  EXPECT_EQ(MergeError(json::array()), "linux.seccomp: not an object");
  EXPECT_EQ(MergeError(json::parse(R"({})")), "linux.seccomp.defaultAction: missing");
  EXPECT_EQ(MergeError(json::parse(R"({"defaultAction": "SCMP_ACT_NOTIFY"})")),
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY as the default action is refused by "
            "runc and crun");
  EXPECT_EQ(MergeError(json::parse(R"({"defaultAction": "ALLOW"})")),
            "linux.seccomp.defaultAction: unknown action \"ALLOW\"");
  EXPECT_EQ(MergeError(json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {}})")),
            "linux.seccomp.syscalls: not an array");
  EXPECT_EQ(
      MergeError(json::parse(
          R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read", 3], "action": "SCMP_ACT_ERRNO"}]})")),
      "linux.seccomp.syscalls[0].names[1]: not a string");
  EXPECT_EQ(
      MergeError(json::parse(
          R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "read", "action": "SCMP_ACT_ERRNO"}]})")),
      "linux.seccomp.syscalls[0].names: not an array");
  EXPECT_EQ(
      MergeError(json::parse(
          R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_DENY"}]})")),
      "linux.seccomp.syscalls[0].action: unknown action \"SCMP_ACT_DENY\"");
  EXPECT_EQ(
      MergeError(json::parse(
          R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 7, "op": "SCMP_CMP_EQ"}]}]})")),
      "linux.seccomp.syscalls[0].args[0].index: not an argument index 0-5");
  EXPECT_EQ(
      MergeError(json::parse(
          R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "op": "EQ"}]}]})")),
      "linux.seccomp.syscalls[0].args[0].op: unknown operator \"EQ\"");
  EXPECT_EQ(
      MergeError(json::parse(
          R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": -1}]})")),
      "linux.seccomp.syscalls[0]: errnoRet: not an unsigned 32-bit integer");
  EXPECT_EQ(MergeError(json::parse(
                R"({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"})")),
            "linux.seccomp.listenerPath: already set to \"/run/agent.sock\": the container "
            "notifies another agent; ubc needs \"/run/ubc/ubcd.sock\"");
}

TEST(SeccompProfileMergeTest, ConditionalDenialUnderAllowingDefaultThatOverlapsIsRefused) {
  // W^X hardening: refuse PROT_WRITE|PROT_EXEC. The rules cannot keep that
  // denial and notify the rest of PROT_WRITE under an ALLOW default.
  const json original = json::parse(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mmap"], "action": "SCMP_ACT_ERRNO",
                  "args": [{"index": 2, "value": 6, "valueTwo": 6, "op": "SCMP_CMP_MASKED_EQ"}]}]})");
  EXPECT_EQ(MergeError(original),
            "linux.seccomp.syscalls[0]: conditional SCMP_ACT_ERRNO rule for mmap under "
            "defaultAction SCMP_ACT_ALLOW overlaps the calls ubc must trap; cannot add notify "
            "rules without changing its decisions");
}

TEST(SeccompProfileMergeTest, TaskCreationTrapsEveryCloneAndVforkAndChangesNothingElse) {
  const json original = ContainersCommonProfileAsPodmanGivesIt(PodmanDefaultCaps());
  ASSERT_TRUE(original.is_object());
  MergeOptions tasks;
  tasks.trap_task_creation = true;
  Result<json> with_tasks = MergeUbcNotifyRules(&original, kListener, tasks);
  ASSERT_TRUE(with_tasks.ok()) << with_tasks.status().message();
  const json without = MustMerge(&original);
  SeccompProfileModel plain = MustModel(without);
  SeccompProfileModel trapped = MustModel(*with_tasks);
  SeccompProfileModel before = MustModel(original);
  for (const char* name : {"clone", "vfork"}) {
    for (const Args& args : MemoryGrid("clone")) {
      if (!before.Evaluate(name, args).Allows()) continue;
      EXPECT_EQ(trapped.Evaluate(name, args).action, "SCMP_ACT_NOTIFY") << name << " " << args[0];
    }
  }
  std::set<std::string> names = TrappedSyscallNames();
  for (const std::string& n : before.NamedSyscalls()) names.insert(n);
  int checked = 0;
  for (const std::string& name : names) {
    if (name == "clone" || name == "vfork") continue;
    const bool memory = TrappedSyscallNames().count(name) != 0;
    for (const Args& args : memory ? MemoryGrid(name) : GeneralGrid()) {
      ++checked;
      EXPECT_EQ(trapped.Evaluate(name, args), plain.Evaluate(name, args)) << name;
    }
  }
  EXPECT_GT(checked, 400);
  // Without a profile: an allow-all one, clone and vfork notified whole.
  Result<json> bare = MergeUbcNotifyRules(nullptr, kListener, tasks);
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(RulesFor(*bare, "clone"),
            std::vector<json>{json::parse(R"({"names": ["clone"], "action": "SCMP_ACT_NOTIFY"})")});
  EXPECT_EQ(RulesFor(*bare, "vfork"),
            std::vector<json>{json::parse(R"({"names": ["vfork"], "action": "SCMP_ACT_NOTIFY"})")});
}

}  // namespace
}  // namespace ubc
