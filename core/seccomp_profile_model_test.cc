#include "core/seccomp_profile_model.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace ubc {
namespace {

using nlohmann::json;
using Args = std::array<uint64_t, 6>;

const SeccompDecision kAllowed{"SCMP_ACT_ALLOW"};

SeccompProfileModel MustModel(const char* text) {
  Result<SeccompProfileModel> model = SeccompProfileModel::Create(json::parse(text));
  EXPECT_TRUE(model.ok()) << text << ": " << model.status().message();
  return model.ok() ? *model : *SeccompProfileModel::Create(json());
}

std::string Printed(const SeccompDecision& d) {
  std::ostringstream out;
  out << d;
  return out.str();
}

// ---- Create ----

TEST(SeccompProfileModelTest, NullProfileAllowsEverything) {
  Result<SeccompProfileModel> m = SeccompProfileModel::Create(json());
  ASSERT_TRUE(m.ok()) << m.status().message();
  for (const char* syscall : {"mmap", "clone3", "ptrace", "not_a_syscall"}) {
    EXPECT_EQ(m->Evaluate(syscall, {}), kAllowed) << syscall;
    EXPECT_EQ(m->Evaluate(syscall, {~0ull, 1, 2, 3, 4, 5}), kAllowed) << syscall;
  }
  EXPECT_TRUE(m->NamedSyscalls().empty());
}

TEST(SeccompProfileModelTest, MinimalProfiles) {
  // syscalls absent, null and empty: the default decides everything.
  for (const char* text : {R"({"defaultAction": "SCMP_ACT_ERRNO"})",
                           R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": null})",
                           R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []})"}) {
    const SeccompProfileModel m = MustModel(text);
    EXPECT_EQ(m.Evaluate("read", {}), (SeccompDecision{"SCMP_ACT_ERRNO", 1})) << text;
    EXPECT_TRUE(m.NamedSyscalls().empty()) << text;
  }
}

struct ErrorCase {
  const char* json_text;
  const char* message;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.json_text; }

class SeccompProfileModelCreateError : public testing::TestWithParam<ErrorCase> {};

TEST_P(SeccompProfileModelCreateError, NamesTheField) {
  const ErrorCase& c = GetParam();
  Result<SeccompProfileModel> m = SeccompProfileModel::Create(json::parse(c.json_text));
  ASSERT_FALSE(m.ok()) << c.json_text;
  EXPECT_EQ(m.status().message(), c.message) << c.json_text;
}

INSTANTIATE_TEST_SUITE_P(
    Errors, SeccompProfileModelCreateError,
    testing::Values(ErrorCase{R"([])", "seccomp: not an object"},
                    ErrorCase{R"("SCMP_ACT_ALLOW")", "seccomp: not an object"},
                    ErrorCase{R"({})", "seccomp.defaultAction: missing or not a string"},
                    ErrorCase{R"({"defaultAction": 0})",
                              "seccomp.defaultAction: missing or not a string"},
                    ErrorCase{R"({"defaultAction": "SCMP_ACT_NOPE"})",
                              "seccomp.defaultAction: unknown action SCMP_ACT_NOPE"},
                    ErrorCase{R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": "1"})",
                              "seccomp.defaultErrnoRet: not an unsigned integer"},
                    ErrorCase{R"({"defaultAction": "SCMP_ACT_TRACE", "defaultErrnoRet": -1})",
                              "seccomp.defaultErrnoRet: not an unsigned integer"},
                    ErrorCase{R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {}})",
                              "seccomp.syscalls: not an array"},
                    ErrorCase{R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [1]})",
                              "seccomp.syscalls[0]: not an object"},
                    ErrorCase{R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["read"], "action": "SCMP_ACT_LOG"}, {"names": ["read"]}]})",
                              "seccomp.syscalls[1].action: missing or not a string"},
                    ErrorCase{R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["read"], "action": "SCMP_ACT_NOPE"}]})",
                              "seccomp.syscalls[0].action: unknown action SCMP_ACT_NOPE"},
                    ErrorCase{R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1.5}]})",
                              "seccomp.syscalls[0].errnoRet: not an unsigned integer"},
                    ErrorCase{R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["read"], "action": "SCMP_ACT_ERRNO",
                     "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]})",
                              "seccomp.syscalls[0]: bad argument index"},
                    ErrorCase{R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["read"], "action": "SCMP_ACT_ERRNO",
                     "args": [{"value": 0, "op": "SCMP_CMP_EQ"}]}]})",
                              "seccomp.syscalls[0]: bad argument index"},
                    ErrorCase{R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["read"], "action": "SCMP_ACT_ERRNO",
                     "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_NOPE"}]}]})",
                              "seccomp.syscalls[0]: unknown operator SCMP_CMP_NOPE"},
                    ErrorCase{R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": "read", "action": "SCMP_ACT_ERRNO"}]})",
                              "seccomp.syscalls[0].names: not an array"},
                    ErrorCase{R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["read", 2], "action": "SCMP_ACT_ERRNO"}]})",
                              "seccomp.syscalls[0].names: not a string"}));

// ---- decisions and how they are spelled ----

TEST(SeccompProfileModelTest, ActionsAndErrnosAsTheLoadersSpellThem) {
  const SeccompProfileModel m = MustModel(R"({
    "defaultAction": "SCMP_ACT_KILL",
    "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO"},
                 {"names": ["b"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                 {"names": ["c"], "action": "SCMP_ACT_TRACE"},
                 {"names": ["d"], "action": "SCMP_ACT_TRACE", "errnoRet": 9},
                 {"names": ["e"], "action": "SCMP_ACT_ALLOW", "errnoRet": 5},
                 {"names": ["f"], "action": "SCMP_ACT_ERRNO", "errnoRet": null},
                 {"names": ["g"], "action": "SCMP_ACT_KILL_PROCESS"},
                 {"names": ["h"], "action": "SCMP_ACT_NOTIFY"},
                 {"names": ["i"], "action": "SCMP_ACT_KILL_THREAD"}]})");
  EXPECT_EQ(m.Evaluate("a", {}), (SeccompDecision{"SCMP_ACT_ERRNO", 1}));
  EXPECT_EQ(m.Evaluate("b", {}), (SeccompDecision{"SCMP_ACT_ERRNO", 38}));
  EXPECT_EQ(m.Evaluate("c", {}), (SeccompDecision{"SCMP_ACT_TRACE", 1}));
  EXPECT_EQ(m.Evaluate("d", {}), (SeccompDecision{"SCMP_ACT_TRACE", 9}));
  EXPECT_EQ(m.Evaluate("e", {}), (SeccompDecision{"SCMP_ACT_ALLOW", 0}));
  EXPECT_EQ(m.Evaluate("f", {}), (SeccompDecision{"SCMP_ACT_ERRNO", 1}));
  EXPECT_EQ(m.Evaluate("g", {}), (SeccompDecision{"SCMP_ACT_KILL_PROCESS"}));
  EXPECT_EQ(m.Evaluate("h", {}), (SeccompDecision{"SCMP_ACT_NOTIFY"}));
  // KILL is KILL_THREAD: as the default, and as a rule equal to it (skipped).
  EXPECT_EQ(m.Evaluate("i", {}), (SeccompDecision{"SCMP_ACT_KILL_THREAD"}));
  EXPECT_EQ(m.Evaluate("unnamed", {}), (SeccompDecision{"SCMP_ACT_KILL_THREAD"}));
}

TEST(SeccompProfileModelTest, DefaultErrno) {
  EXPECT_EQ(
      MustModel(R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38})").Evaluate("x", {}),
      (SeccompDecision{"SCMP_ACT_ERRNO", 38}));
  EXPECT_EQ(MustModel(R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": null})")
                .Evaluate("x", {}),
            (SeccompDecision{"SCMP_ACT_ERRNO", 1}));
  // Only ERRNO and TRACE carry one.
  EXPECT_EQ(
      MustModel(R"({"defaultAction": "SCMP_ACT_LOG", "defaultErrnoRet": 38})").Evaluate("x", {}),
      (SeccompDecision{"SCMP_ACT_LOG", 0}));
}

TEST(SeccompProfileModelTest, DecisionAllowsAndPrints) {
  EXPECT_TRUE((SeccompDecision{"SCMP_ACT_ALLOW"}).Allows());
  EXPECT_TRUE((SeccompDecision{"SCMP_ACT_LOG"}).Allows());
  for (const char* action : {"SCMP_ACT_NOTIFY", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP",
                             "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS"}) {
    EXPECT_FALSE((SeccompDecision{action}).Allows()) << action;
  }
  EXPECT_EQ(Printed({"SCMP_ACT_ALLOW"}), "SCMP_ACT_ALLOW");
  EXPECT_EQ(Printed({"SCMP_ACT_ERRNO", 38}), "SCMP_ACT_ERRNO(38)");
  EXPECT_EQ(Printed({"SCMP_ACT_TRACE", 1}), "SCMP_ACT_TRACE(1)");
  EXPECT_EQ(Printed({"SCMP_ACT_NOTIFY", 0, true}), "SCMP_ACT_NOTIFY [ambiguous]");
  EXPECT_EQ(Printed({"SCMP_ACT_ERRNO", 1, true}), "SCMP_ACT_ERRNO(1) [ambiguous]");
}

// ---- Evaluate ----

struct OperatorCase {
  const char* op;
  uint64_t value;
  uint64_t value_two;
  uint64_t arg;
  bool matches;
};

void PrintTo(const OperatorCase& c, std::ostream* os) {
  *os << c.op << " " << c.value << "/" << c.value_two << " on " << c.arg;
}

class SeccompProfileModelOperator : public testing::TestWithParam<OperatorCase> {};

TEST_P(SeccompProfileModelOperator, Matches) {
  const OperatorCase& c = GetParam();
  json profile = {
      {"defaultAction", "SCMP_ACT_ALLOW"},
      {"syscalls",
       {{{"names", {"x"}},
         {"action", "SCMP_ACT_ERRNO"},
         {"args",
          {{{"index", 3}, {"value", c.value}, {"valueTwo", c.value_two}, {"op", c.op}}}}}}}};
  Result<SeccompProfileModel> m = SeccompProfileModel::Create(profile);
  ASSERT_TRUE(m.ok()) << m.status().message();
  Args args{};
  args[3] = c.arg;
  EXPECT_EQ(m->Evaluate("x", args).action, c.matches ? "SCMP_ACT_ERRNO" : "SCMP_ACT_ALLOW")
      << c.op << " " << c.value << "/" << c.value_two << " on " << c.arg;
  // Only argument 3 is compared.
  Args others{c.arg, c.arg, c.arg, 0, c.arg, c.arg};
  EXPECT_EQ(m->Evaluate("x", others), m->Evaluate("x", Args{0, 0, 0, 0, 0, 0})) << c.op;
}

INSTANTIATE_TEST_SUITE_P(
    EveryOperator, SeccompProfileModelOperator,
    testing::Values(
        OperatorCase{"SCMP_CMP_NE", 5, 0, 4, true}, OperatorCase{"SCMP_CMP_NE", 5, 0, 5, false},
        OperatorCase{"SCMP_CMP_LT", 5, 0, 4, true}, OperatorCase{"SCMP_CMP_LT", 5, 0, 5, false},
        OperatorCase{"SCMP_CMP_LE", 5, 0, 5, true}, OperatorCase{"SCMP_CMP_LE", 5, 0, 6, false},
        OperatorCase{"SCMP_CMP_EQ", 5, 0, 5, true}, OperatorCase{"SCMP_CMP_EQ", 5, 0, 6, false},
        OperatorCase{"SCMP_CMP_GE", 5, 0, 5, true}, OperatorCase{"SCMP_CMP_GE", 5, 0, 4, false},
        OperatorCase{"SCMP_CMP_GT", 5, 0, 6, true}, OperatorCase{"SCMP_CMP_GT", 5, 0, 5, false},
        OperatorCase{"SCMP_CMP_GE", uint64_t{1} << 63, 0, ~0ull, true},
        OperatorCase{"SCMP_CMP_LT", uint64_t{1} << 63, 0, ~0ull, false},
        // value is the mask, valueTwo the expected bits
        OperatorCase{"SCMP_CMP_MASKED_EQ", 0x22, 0x20, 0x1020, true},
        OperatorCase{"SCMP_CMP_MASKED_EQ", 0x22, 0x20, 0x22, false},
        OperatorCase{"SCMP_CMP_MASKED_EQ", 0x100, 0, 0x11, true},
        OperatorCase{"SCMP_CMP_MASKED_EQ", 0x100, 0, 0x111, false}));

TEST(SeccompProfileModelTest, ConditionsOfOneRuleAllHold) {
  const SeccompProfileModel m = MustModel(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ALLOW", "args": [
      {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
      {"index": 2, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]}]})");
  EXPECT_TRUE(m.Evaluate("x", {1, 0, 2}).Allows());
  EXPECT_TRUE(m.Evaluate("x", {1, 9, 3, 9, 9, 9}).Allows());
  EXPECT_FALSE(m.Evaluate("x", {1, 0, 1}).Allows());
  EXPECT_FALSE(m.Evaluate("x", {0, 0, 2}).Allows());
}

TEST(SeccompProfileModelTest, TheFirstUnconditionalRuleDecides) {
  // Wherever it stands: conditional rules before and after it are dropped, and
  // a later unconditional rule with another action does not make it ambiguous.
  const SeccompProfileModel m = MustModel(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [
      {"names": ["x"], "action": "SCMP_ACT_KILL", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
      {"names": ["x"], "action": "SCMP_ACT_LOG"},
      {"names": ["x"], "action": "SCMP_ACT_NOTIFY", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
      {"names": ["x"], "action": "SCMP_ACT_TRAP"}]})");
  for (uint64_t a0 : {0, 1, 2, 3}) {
    EXPECT_EQ(m.Evaluate("x", {a0}), (SeccompDecision{"SCMP_ACT_LOG"})) << a0;
  }
}

TEST(SeccompProfileModelTest, ConditionalRulesDecideWhereTheyMatch) {
  const SeccompProfileModel m = MustModel(R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
    "syscalls": [
      {"names": ["x", "y"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
      {"names": ["x"], "action": "SCMP_ACT_NOTIFY", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
      {"names": ["x"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 7, "op": "SCMP_CMP_EQ"}]}]})");
  EXPECT_EQ(m.Evaluate("x", {1}), kAllowed);
  EXPECT_EQ(m.Evaluate("y", {1}), kAllowed);
  EXPECT_EQ(m.Evaluate("x", {2}), (SeccompDecision{"SCMP_ACT_NOTIFY"}));
  // Agreeing matches are not ambiguous.
  EXPECT_EQ(m.Evaluate("x", {1, 7}), kAllowed);
  // No match: the default.
  EXPECT_EQ(m.Evaluate("x", {3}), (SeccompDecision{"SCMP_ACT_ERRNO", 38}));
  EXPECT_EQ(m.Evaluate("y", {2}), (SeccompDecision{"SCMP_ACT_ERRNO", 38}));
  EXPECT_EQ(m.Evaluate("unnamed", {1}), (SeccompDecision{"SCMP_ACT_ERRNO", 38}));
}

TEST(SeccompProfileModelTest, RulesWithTheDefaultsActionAreSkipped) {
  const SeccompProfileModel m = MustModel(R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
    "syscalls": [
      {"names": ["x"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
      {"names": ["x"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
      {"names": ["y"], "action": "SCMP_ACT_ERRNO"},
      {"names": ["z"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
      {"names": ["z"], "action": "SCMP_ACT_LOG", "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}]}]})");
  // The unconditional ERRNO(38) rule is the default's: skipped, so it does
  // not silence the conditional ALLOW.
  EXPECT_EQ(m.Evaluate("x", {1}), kAllowed);
  EXPECT_EQ(m.Evaluate("x", {2}), (SeccompDecision{"SCMP_ACT_ERRNO", 38}));
  // ERRNO without errnoRet is EPERM, not the default's 38: kept.
  EXPECT_EQ(m.Evaluate("y", {}), (SeccompDecision{"SCMP_ACT_ERRNO", 1}));
  // A skipped conditional rule makes no overlap.
  EXPECT_EQ(m.Evaluate("z", {1, 1}), (SeccompDecision{"SCMP_ACT_LOG"}));
}

TEST(SeccompProfileModelTest, AnAllowRuleUnderAnAllowDefaultCannotShadow) {
  const SeccompProfileModel m = MustModel(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [
      {"names": ["brk"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["brk"], "action": "SCMP_ACT_NOTIFY", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_NE"}]}]})");
  EXPECT_EQ(m.Evaluate("brk", {0x555555559000}), (SeccompDecision{"SCMP_ACT_NOTIFY"}));
  EXPECT_EQ(m.Evaluate("brk", {0}), kAllowed);
}

TEST(SeccompProfileModelTest, ComparingOneArgumentTwiceIsAnOr) {
  // runc and crun then add every comparison as its own rule, the one on
  // argument 1 included.
  const SeccompProfileModel m = MustModel(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [
      {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
      {"index": 1, "value": 5, "op": "SCMP_CMP_EQ"},
      {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]})");
  EXPECT_TRUE(m.Evaluate("personality", {0, 1}).Allows());
  EXPECT_TRUE(m.Evaluate("personality", {8, 1}).Allows());
  EXPECT_TRUE(m.Evaluate("personality", {9, 5}).Allows());
  EXPECT_FALSE(m.Evaluate("personality", {9, 1}).Allows());
  EXPECT_FALSE(m.Evaluate("personality", {9, 1}).ambiguous);
}

struct OverlapCase {
  const char* first;
  uint32_t first_errno;
  const char* second;
  uint32_t second_errno;
  SeccompDecision want;  // for a call both rules match
};

void PrintTo(const OverlapCase& c, std::ostream* os) {
  *os << c.first << "(" << c.first_errno << ") and " << c.second << "(" << c.second_errno << ")";
}

class SeccompProfileModelOverlap : public testing::TestWithParam<OverlapCase> {};

TEST_P(SeccompProfileModelOverlap, TheMoreRestrictiveAmbiguous) {
  const OverlapCase& c = GetParam();
  const auto rule = [](const char* action, uint32_t errno_ret, uint32_t index) {
    json r = {{"names", {"x"}},
              {"action", action},
              {"args", {{{"index", index}, {"value", 1}, {"op", "SCMP_CMP_EQ"}}}}};
    if (errno_ret != 0) r["errnoRet"] = errno_ret;
    return r;
  };
  // Both orders: the answer must not depend on which rule comes first.
  for (bool swap : {false, true}) {
    json a = rule(c.first, c.first_errno, 0);
    json b = rule(c.second, c.second_errno, 1);
    if (swap) std::swap(a, b);
    // KILL_PROCESS as the default: never one of the rules' actions here.
    const json profile = {{"defaultAction", "SCMP_ACT_KILL_PROCESS"}, {"syscalls", {a, b}}};
    Result<SeccompProfileModel> m = SeccompProfileModel::Create(profile);
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_EQ(m->Evaluate("x", {1, 1}), c.want) << profile.dump();
    // Where only one matches, it decides alone.
    EXPECT_FALSE(m->Evaluate("x", {1, 0}).ambiguous) << profile.dump();
    EXPECT_FALSE(m->Evaluate("x", {0, 1}).ambiguous) << profile.dump();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Precedence, SeccompProfileModelOverlap,
    testing::Values(
        OverlapCase{"SCMP_ACT_ALLOW", 0, "SCMP_ACT_NOTIFY", 0, {"SCMP_ACT_NOTIFY", 0, true}},
        OverlapCase{"SCMP_ACT_ALLOW", 0, "SCMP_ACT_LOG", 0, {"SCMP_ACT_LOG", 0, true}},
        OverlapCase{"SCMP_ACT_LOG", 0, "SCMP_ACT_TRACE", 0, {"SCMP_ACT_TRACE", 1, true}},
        OverlapCase{"SCMP_ACT_TRACE", 0, "SCMP_ACT_NOTIFY", 0, {"SCMP_ACT_NOTIFY", 0, true}},
        OverlapCase{"SCMP_ACT_NOTIFY", 0, "SCMP_ACT_ERRNO", 38, {"SCMP_ACT_ERRNO", 38, true}},
        OverlapCase{"SCMP_ACT_ERRNO", 0, "SCMP_ACT_TRAP", 0, {"SCMP_ACT_TRAP", 0, true}},
        OverlapCase{"SCMP_ACT_TRAP", 0, "SCMP_ACT_KILL", 0, {"SCMP_ACT_KILL_THREAD", 0, true}},
        // The same action with another errno: the lower one.
        OverlapCase{"SCMP_ACT_ERRNO", 38, "SCMP_ACT_ERRNO", 13, {"SCMP_ACT_ERRNO", 13, true}},
        // Agreeing rules are not ambiguous.
        OverlapCase{"SCMP_ACT_ERRNO", 13, "SCMP_ACT_ERRNO", 13, {"SCMP_ACT_ERRNO", 13, false}},
        OverlapCase{
            "SCMP_ACT_KILL", 0, "SCMP_ACT_KILL_THREAD", 0, {"SCMP_ACT_KILL_THREAD", 0, false}}));

TEST(SeccompProfileModelTest, KillProcessIsTheMostRestrictive) {
  const SeccompProfileModel m = MustModel(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [
      {"names": ["x"], "action": "SCMP_ACT_KILL_THREAD", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
      {"names": ["x"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}]},
      {"names": ["x"], "action": "SCMP_ACT_LOG", "args": [{"index": 2, "value": 1, "op": "SCMP_CMP_EQ"}]}]})");
  EXPECT_EQ(m.Evaluate("x", {1, 1, 1}), (SeccompDecision{"SCMP_ACT_KILL_PROCESS", 0, true}));
  EXPECT_EQ(m.Evaluate("x", {1, 0, 1}), (SeccompDecision{"SCMP_ACT_KILL_THREAD", 0, true}));
}

// ---- NamedSyscalls ----

TEST(SeccompProfileModelTest, NamedSyscallsAreSortedUniqueAndIncludeSkippedRules) {
  const SeccompProfileModel m = MustModel(R"({
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [
      {"names": ["write", "read"], "action": "SCMP_ACT_ERRNO"},
      {"names": ["read"], "action": "SCMP_ACT_LOG", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
      {"names": ["mmap"], "action": "SCMP_ACT_ALLOW"},
      {"names": [], "action": "SCMP_ACT_KILL"}]})");
  EXPECT_EQ(m.NamedSyscalls(), (std::vector<std::string>{"mmap", "read", "write"}));
}

// ---- ConvertLikePodman ----

TEST(ConvertLikePodmanTest, KeepsTheDefaultAndTheX86Architectures) {
  const json converted = ConvertLikePodman(json::parse(R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "archMap": [
      {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
      {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
    "syscalls": []})"),
                                           PodmanDefaultCaps());
  EXPECT_EQ(converted, json::parse(R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": []})"));
  const json bare = ConvertLikePodman(json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW"})"), {});
  EXPECT_EQ(bare, json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": [],
                                  "syscalls": []})"));
}

struct ConvertCase {
  const char* what;
  const char* rule;  // a containers-common rule for "x"
  bool kept;
};

void PrintTo(const ConvertCase& c, std::ostream* os) { *os << c.what; }

class ConvertLikePodmanFilter : public testing::TestWithParam<ConvertCase> {};

TEST_P(ConvertLikePodmanFilter, Rule) {
  const ConvertCase& c = GetParam();
  const json profile = {{"defaultAction", "SCMP_ACT_ERRNO"},
                        {"syscalls", json::array({json::parse(c.rule)})}};
  const json converted = ConvertLikePodman(profile, {"CAP_CHOWN", "CAP_KILL"});
  EXPECT_EQ(converted["syscalls"].size(), c.kept ? 1u : 0u) << c.what << ": " << converted.dump();
}

INSTANTIATE_TEST_SUITE_P(
    Filters, ConvertLikePodmanFilter,
    testing::Values(ConvertCase{"no conditions", R"({"names": ["x"], "action": "SCMP_ACT_ALLOW"})",
                                true},
                    ConvertCase{"includes amd64",
                                R"({"names": ["x"], "action": "SCMP_ACT_ALLOW",
                        "includes": {"arches": ["arm64", "amd64"]}})",
                                true},
                    ConvertCase{"includes other arches",
                                R"({"names": ["x"], "action": "SCMP_ACT_ALLOW",
                        "includes": {"arches": ["s390x", "ppc64le"]}})",
                                false},
                    ConvertCase{"excludes amd64",
                                R"({"names": ["x"], "action": "SCMP_ACT_ALLOW",
                        "excludes": {"arches": ["amd64"]}})",
                                false},
                    ConvertCase{"excludes other arches",
                                R"({"names": ["x"], "action": "SCMP_ACT_ALLOW",
                        "excludes": {"arches": ["s390x"]}})",
                                true},
                    ConvertCase{"includes caps all held",
                                R"({"names": ["x"], "action": "SCMP_ACT_ALLOW",
                        "includes": {"caps": ["CAP_CHOWN", "CAP_KILL"]}})",
                                true},
                    ConvertCase{"includes a cap not held",
                                R"({"names": ["x"], "action": "SCMP_ACT_ALLOW",
                        "includes": {"caps": ["CAP_CHOWN", "CAP_SYS_ADMIN"]}})",
                                false},
                    ConvertCase{"excludes a cap held",
                                R"({"names": ["x"], "action": "SCMP_ACT_ERRNO",
                        "excludes": {"caps": ["CAP_SYS_ADMIN", "CAP_KILL"]}})",
                                false},
                    ConvertCase{"excludes caps not held",
                                R"({"names": ["x"], "action": "SCMP_ACT_ERRNO",
                        "excludes": {"caps": ["CAP_SYS_ADMIN"]}})",
                                true},
                    ConvertCase{"minKernel ignored",
                                R"({"names": ["x"], "action": "SCMP_ACT_ALLOW",
                        "includes": {"minKernel": "99.0"}})",
                                true}));

TEST(ConvertLikePodmanTest, KeepsOnlyNamesActionArgsAndErrnoRet) {
  const json converted = ConvertLikePodman(json::parse(R"({
    "defaultAction": "SCMP_ACT_ERRNO",
    "syscalls": [
      {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "comment": "dropped",
       "includes": {}, "excludes": {},
       "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
      {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "args": []},
      {"names": ["chroot"], "action": "SCMP_ACT_ERRNO", "errnoRet": null, "args": null}]})"),
                                           PodmanDefaultCaps());
  EXPECT_EQ(converted["syscalls"], json::parse(R"([
    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
     "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
    {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
    {"names": ["chroot"], "action": "SCMP_ACT_ERRNO"}])"));
  // What it hands the runtime is a profile the model (and the merge) accepts.
  Result<SeccompProfileModel> m = SeccompProfileModel::Create(converted);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->Evaluate("clone3", {}), (SeccompDecision{"SCMP_ACT_ERRNO", 38}));
  EXPECT_TRUE(m->Evaluate("personality", {8}).Allows());
  EXPECT_FALSE(m->Evaluate("personality", {9}).Allows());
}

TEST(ConvertLikePodmanTest, PodmanDefaultCaps) {
  EXPECT_EQ(PodmanDefaultCaps(),
            (std::set<std::string>{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
                                   "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID",
                                   "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"}));
}

}  // namespace
}  // namespace ubc
