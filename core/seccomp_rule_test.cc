#include "core/seccomp_rule.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace ubc {
namespace {

using nlohmann::json;

constexpr uint64_t kHighHalf = uint64_t{1} << 63;
constexpr char kRuleField[] = "linux.seccomp.syscalls[0]";
constexpr char kArgField[] = "linux.seccomp.syscalls[0].args[1]";

// Written out field by field, independently of ToJson, for failure messages.
std::string Show(const ArgCmp& c) {
  return "{index " + std::to_string(c.index) + ", op " + std::to_string(static_cast<int>(c.op)) +
         ", value " + std::to_string(c.value) + ", value_two " + std::to_string(c.value_two) + "}";
}

std::string Show(const std::vector<ArgCmp>& cs) {
  std::string out = "[";
  for (const ArgCmp& c : cs) out += Show(c) + " ";
  return out + "]";
}

std::string Show(Combined c) {
  switch (c) {
    case Combined::kEmpty:
      return "kEmpty";
    case Combined::kKeepFirst:
      return "kKeepFirst";
    case Combined::kReplace:
      return "kReplace";
    case Combined::kUnknown:
      return "kUnknown";
  }
  return "?";
}

ArgCmp Cmp(uint32_t index, Op op, uint64_t value, uint64_t value_two = 0) {
  return ArgCmp{index, op, value, value_two};
}

Rule MustParseRule(const char* text) {
  Result<Rule> rule = ParseRule(json::parse(text), kRuleField);
  EXPECT_TRUE(rule.ok()) << text << ": " << rule.status().message();
  return rule.ok() ? *rule : Rule{};
}

// ---- the operators and their names ----

TEST(SeccompRuleTest, OpNames) {
  EXPECT_EQ(OpName(Op::kNe), "SCMP_CMP_NE");
  EXPECT_EQ(OpName(Op::kLt), "SCMP_CMP_LT");
  EXPECT_EQ(OpName(Op::kLe), "SCMP_CMP_LE");
  EXPECT_EQ(OpName(Op::kEq), "SCMP_CMP_EQ");
  EXPECT_EQ(OpName(Op::kGe), "SCMP_CMP_GE");
  EXPECT_EQ(OpName(Op::kGt), "SCMP_CMP_GT");
  EXPECT_EQ(OpName(Op::kMaskedEq), "SCMP_CMP_MASKED_EQ");
}

TEST(SeccompRuleTest, ToJsonWritesAllFourFieldsAndParsesBack) {
  const ArgCmp c = MaskedEq(3, 0x22, 0x20);
  EXPECT_EQ(c, Cmp(3, Op::kMaskedEq, 0x22, 0x20));
  const json j = ToJson(c);
  EXPECT_EQ(j, json::parse(R"({"index": 3, "value": 34, "valueTwo": 32,
                               "op": "SCMP_CMP_MASKED_EQ"})"));
  Result<ArgCmp> back = ParseArg(j, kArgField);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(Show(*back), Show(c));
  EXPECT_EQ(ToJson(Cmp(0, Op::kGe, kHighHalf))["value"].get<uint64_t>(), kHighHalf);
}

struct HoldsCase {
  ArgCmp cmp;
  uint64_t x;
  bool holds;
};

void PrintTo(const HoldsCase& c, std::ostream* os) { *os << Show(c.cmp) << " on " << c.x; }

class HoldsTest : public testing::TestWithParam<HoldsCase> {};

TEST_P(HoldsTest, Operator) {
  const HoldsCase& c = GetParam();
  EXPECT_EQ(Holds(c.cmp, c.x), c.holds) << Show(c.cmp) << " x=" << c.x;
}

INSTANTIATE_TEST_SUITE_P(
    EveryOperator, HoldsTest,
    testing::Values(HoldsCase{Cmp(0, Op::kNe, 5), 4, true}, HoldsCase{Cmp(0, Op::kNe, 5), 5, false},
                    HoldsCase{Cmp(0, Op::kNe, 0), ~0ull, true},
                    HoldsCase{Cmp(0, Op::kLt, 5), 4, true}, HoldsCase{Cmp(0, Op::kLt, 5), 5, false},
                    HoldsCase{Cmp(0, Op::kLt, 0), 0, false},
                    HoldsCase{Cmp(0, Op::kLt, kHighHalf), kHighHalf - 1, true},
                    HoldsCase{Cmp(0, Op::kLe, 5), 5, true}, HoldsCase{Cmp(0, Op::kLe, 5), 6, false},
                    HoldsCase{Cmp(0, Op::kEq, 5), 5, true}, HoldsCase{Cmp(0, Op::kEq, 5), 4, false},
                    HoldsCase{Cmp(0, Op::kGe, 5), 5, true}, HoldsCase{Cmp(0, Op::kGe, 5), 4, false},
                    HoldsCase{Cmp(0, Op::kGe, kHighHalf), ~0ull, true},
                    HoldsCase{Cmp(0, Op::kGe, kHighHalf), kHighHalf - 1, false},
                    HoldsCase{Cmp(0, Op::kGt, 5), 6, true}, HoldsCase{Cmp(0, Op::kGt, 5), 5, false},
                    // MASKED_EQ: value is the mask, value_two the expected bits.
                    HoldsCase{MaskedEq(0, 6, 4), 5, true}, HoldsCase{MaskedEq(0, 6, 4), 7, false},
                    HoldsCase{MaskedEq(0, 6, 4), 0xffff0004, true},
                    HoldsCase{MaskedEq(0, 2, 0), 1, true}, HoldsCase{MaskedEq(0, 2, 0), 2, false},
                    // Expected bits outside the mask: never satisfied.
                    HoldsCase{MaskedEq(0, 1, 2), 3, false},
                    // The index is not looked at.
                    HoldsCase{Cmp(5, Op::kEq, 7), 7, true}));

// ---- actions ----

struct ActionCase {
  const char* name;
  std::optional<uint32_t> errno_ret;
  const char* want_name;
  uint32_t want_errno;
  bool allows;
};

void PrintTo(const ActionCase& c, std::ostream* os) { *os << c.name; }

class MakeActionTest : public testing::TestWithParam<ActionCase> {};

TEST_P(MakeActionTest, AsTheLoadersCompareIt) {
  const ActionCase& c = GetParam();
  const Action a = MakeAction(c.name, c.errno_ret);
  EXPECT_EQ(a.name, c.want_name) << c.name;
  EXPECT_EQ(a.errno_ret, c.want_errno) << c.name;
  EXPECT_EQ(a.Allows(), c.allows) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Actions, MakeActionTest,
    testing::Values(ActionCase{"SCMP_ACT_KILL", std::nullopt, "SCMP_ACT_KILL_THREAD", 0, false},
                    ActionCase{"SCMP_ACT_KILL_THREAD", std::nullopt, "SCMP_ACT_KILL_THREAD", 0,
                               false},
                    ActionCase{"SCMP_ACT_KILL_PROCESS", 5, "SCMP_ACT_KILL_PROCESS", 0, false},
                    ActionCase{"SCMP_ACT_TRAP", 5, "SCMP_ACT_TRAP", 0, false},
                    // ERRNO and TRACE: EPERM (1) when errnoRet is absent.
                    ActionCase{"SCMP_ACT_ERRNO", std::nullopt, "SCMP_ACT_ERRNO", 1, false},
                    ActionCase{"SCMP_ACT_ERRNO", 38, "SCMP_ACT_ERRNO", 38, false},
                    ActionCase{"SCMP_ACT_ERRNO", 0, "SCMP_ACT_ERRNO", 0, false},
                    ActionCase{"SCMP_ACT_TRACE", std::nullopt, "SCMP_ACT_TRACE", 1, false},
                    ActionCase{"SCMP_ACT_TRACE", 7, "SCMP_ACT_TRACE", 7, false},
                    // Any other action drops errnoRet.
                    ActionCase{"SCMP_ACT_ALLOW", 5, "SCMP_ACT_ALLOW", 0, true},
                    ActionCase{"SCMP_ACT_LOG", std::nullopt, "SCMP_ACT_LOG", 0, true},
                    ActionCase{"SCMP_ACT_NOTIFY", 5, "SCMP_ACT_NOTIFY", 0, false}));

TEST(SeccompRuleTest, ActionsEqualAsTheLoadersSeeThem) {
  EXPECT_EQ(MakeAction("SCMP_ACT_KILL", std::nullopt), MakeAction("SCMP_ACT_KILL_THREAD", 3));
  EXPECT_EQ(MakeAction("SCMP_ACT_ERRNO", std::nullopt), MakeAction("SCMP_ACT_ERRNO", 1));
  EXPECT_EQ(MakeAction("SCMP_ACT_ALLOW", 1), MakeAction("SCMP_ACT_ALLOW", std::nullopt));
  EXPECT_FALSE(MakeAction("SCMP_ACT_ERRNO", 38) == MakeAction("SCMP_ACT_ERRNO", std::nullopt));
  EXPECT_FALSE(MakeAction("SCMP_ACT_TRACE", 1) == MakeAction("SCMP_ACT_ERRNO", 1));
}

// ---- parsing ----

TEST(SeccompRuleTest, FieldErrorNamesTheField) {
  EXPECT_EQ(FieldError("linux.seccomp.listenerPath", "not a string").message(),
            "linux.seccomp.listenerPath: not a string");
}

TEST(SeccompRuleTest, ParseActionNameAcceptsEveryOciAction) {
  for (const char* name :
       {"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"}) {
    Result<std::string> r = ParseActionName(json{{"defaultAction", name}}, "defaultAction", "f");
    ASSERT_TRUE(r.ok()) << name << ": " << r.status().message();
    EXPECT_EQ(*r, name);  // as written: KILL is mapped by MakeAction, not here
  }
}

struct ErrorCase {
  const char* json_text;
  const char* message;
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.json_text; }

class ParseActionNameError : public testing::TestWithParam<ErrorCase> {};

TEST_P(ParseActionNameError, NamesTheField) {
  const ErrorCase& c = GetParam();
  Result<std::string> r =
      ParseActionName(json::parse(c.json_text), "defaultAction", "linux.seccomp.defaultAction");
  ASSERT_FALSE(r.ok()) << c.json_text;
  EXPECT_EQ(r.status().message(), c.message) << c.json_text;
}

INSTANTIATE_TEST_SUITE_P(
    Errors, ParseActionNameError,
    testing::Values(
        ErrorCase{R"({})", "linux.seccomp.defaultAction: missing"},
        ErrorCase{R"({"defaultAction": null})", "linux.seccomp.defaultAction: not a string"},
        ErrorCase{R"({"defaultAction": 1})", "linux.seccomp.defaultAction: not a string"},
        ErrorCase{R"({"defaultAction": "SCMP_ACT_FOO"})",
                  R"(linux.seccomp.defaultAction: unknown action "SCMP_ACT_FOO")"},
        ErrorCase{R"({"defaultAction": "scmp_act_allow"})",
                  R"(linux.seccomp.defaultAction: unknown action "scmp_act_allow")"}));

struct ErrnoCase {
  const char* json_text;
  bool ok;
  std::optional<uint32_t> value;
};

void PrintTo(const ErrnoCase& c, std::ostream* os) { *os << c.json_text; }

class ParseErrnoTest : public testing::TestWithParam<ErrnoCase> {};

TEST_P(ParseErrnoTest, Value) {
  const ErrnoCase& c = GetParam();
  Result<std::optional<uint32_t>> r = ParseErrno(json::parse(c.json_text), "errnoRet");
  ASSERT_EQ(r.ok(), c.ok) << c.json_text << ": " << r.status().message();
  if (c.ok) {
    EXPECT_EQ(*r, c.value) << c.json_text;
  } else {
    // Only the key: callers wrap it with the object's path.
    EXPECT_EQ(r.status().message(), "errnoRet: not an unsigned 32-bit integer") << c.json_text;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Values, ParseErrnoTest,
    testing::Values(ErrnoCase{R"({})", true, std::nullopt},
                    ErrnoCase{R"({"errnoRet": null})", true, std::nullopt},
                    ErrnoCase{R"({"errnoRet": 0})", true, 0u},
                    ErrnoCase{R"({"errnoRet": 38})", true, 38u},
                    ErrnoCase{R"({"errnoRet": 4294967295})", true, 4294967295u},
                    ErrnoCase{R"({"errnoRet": 4294967296})", false, std::nullopt},
                    ErrnoCase{R"({"errnoRet": -1})", false, std::nullopt},
                    ErrnoCase{R"({"errnoRet": 1.5})", false, std::nullopt},
                    ErrnoCase{R"({"errnoRet": "1"})", false, std::nullopt},
                    ErrnoCase{R"({"errnoRet": true})", false, std::nullopt}));

struct ArgCase {
  const char* json_text;
  ArgCmp want;
};

void PrintTo(const ArgCase& c, std::ostream* os) { *os << c.json_text; }

class ParseArgOk : public testing::TestWithParam<ArgCase> {};

TEST_P(ParseArgOk, Comparison) {
  const ArgCase& c = GetParam();
  Result<ArgCmp> r = ParseArg(json::parse(c.json_text), kArgField);
  ASSERT_TRUE(r.ok()) << c.json_text << ": " << r.status().message();
  EXPECT_EQ(Show(*r), Show(c.want)) << c.json_text;
}

INSTANTIATE_TEST_SUITE_P(
    Args, ParseArgOk,
    testing::Values(ArgCase{R"({"index": 0, "value": 5, "op": "SCMP_CMP_NE"})", Cmp(0, Op::kNe, 5)},
                    ArgCase{R"({"index": 1, "value": 5, "op": "SCMP_CMP_LT"})", Cmp(1, Op::kLt, 5)},
                    ArgCase{R"({"index": 2, "value": 5, "op": "SCMP_CMP_LE"})", Cmp(2, Op::kLe, 5)},
                    ArgCase{R"({"index": 3, "value": 5, "op": "SCMP_CMP_EQ"})", Cmp(3, Op::kEq, 5)},
                    ArgCase{R"({"index": 4, "value": 5, "op": "SCMP_CMP_GE"})", Cmp(4, Op::kGe, 5)},
                    ArgCase{R"({"index": 5, "value": 5, "op": "SCMP_CMP_GT"})", Cmp(5, Op::kGt, 5)},
                    ArgCase{
                        R"({"index": 2, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"})",
                        MaskedEq(2, 2, 2)},
                    // value and valueTwo default to 0, absent or null.
                    ArgCase{R"({"index": 0, "op": "SCMP_CMP_EQ"})", Cmp(0, Op::kEq, 0)},
                    ArgCase{R"({"index": 0, "value": null, "valueTwo": null, "op": "SCMP_CMP_EQ"})",
                            Cmp(0, Op::kEq, 0)},
                    // The full unsigned range.
                    ArgCase{R"({"index": 0, "value": 18446744073709551615, "op": "SCMP_CMP_LE"})",
                            Cmp(0, Op::kLe, ~0ull)},
                    ArgCase{R"({"index": 0, "value": 9223372036854775808, "op": "SCMP_CMP_GE"})",
                            Cmp(0, Op::kGe, kHighHalf)},
                    // Unknown fields are ignored.
                    ArgCase{R"({"index": 1, "value": 7, "op": "SCMP_CMP_EQ", "comment": "x"})",
                            Cmp(1, Op::kEq, 7)}));

class ParseArgError : public testing::TestWithParam<ErrorCase> {};

TEST_P(ParseArgError, NamesTheField) {
  const ErrorCase& c = GetParam();
  Result<ArgCmp> r = ParseArg(json::parse(c.json_text), kArgField);
  ASSERT_FALSE(r.ok()) << c.json_text;
  EXPECT_EQ(r.status().message(), std::string(kArgField) + c.message) << c.json_text;
}

INSTANTIATE_TEST_SUITE_P(
    Errors, ParseArgError,
    testing::Values(
        ErrorCase{R"(5)", ": not an object"}, ErrorCase{R"([])", ": not an object"},
        ErrorCase{R"({"value": 1, "op": "SCMP_CMP_EQ"})", ".index: missing"},
        ErrorCase{R"({"index": 6, "op": "SCMP_CMP_EQ"})", ".index: not an argument index 0-5"},
        ErrorCase{R"({"index": -1, "op": "SCMP_CMP_EQ"})", ".index: not an argument index 0-5"},
        ErrorCase{R"({"index": "0", "op": "SCMP_CMP_EQ"})", ".index: not an argument index 0-5"},
        ErrorCase{R"({"index": null, "op": "SCMP_CMP_EQ"})", ".index: not an argument index 0-5"},
        ErrorCase{R"({"index": 1.0, "op": "SCMP_CMP_EQ"})", ".index: not an argument index 0-5"},
        ErrorCase{R"({"index": 0, "value": -1, "op": "SCMP_CMP_EQ"})",
                  ".value: not an unsigned 64-bit integer"},
        ErrorCase{R"({"index": 0, "value": "5", "op": "SCMP_CMP_EQ"})",
                  ".value: not an unsigned 64-bit integer"},
        ErrorCase{R"({"index": 0, "valueTwo": 1.5, "op": "SCMP_CMP_MASKED_EQ"})",
                  ".valueTwo: not an unsigned 64-bit integer"},
        ErrorCase{R"({"index": 0, "value": 1})", ".op: missing"},
        ErrorCase{R"({"index": 0, "value": 1, "op": 4})", ".op: not a string"},
        ErrorCase{R"({"index": 0, "value": 1, "op": "SCMP_CMP_FOO"})",
                  R"(.op: unknown operator "SCMP_CMP_FOO")"}));

TEST(SeccompRuleTest, ParseRuleKeepsWhatWasWritten) {
  const json written = json::parse(R"({
    "names": ["mmap", "mmap2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 12,
    "args": [{"index": 1, "value": 4096, "op": "SCMP_CMP_EQ"},
             {"index": 2, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}],
    "comment": "kept"})");
  Result<Rule> r = ParseRule(written, kRuleField);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->original, written);
  EXPECT_EQ(r->names, (std::vector<std::string>{"mmap", "mmap2"}));
  EXPECT_EQ(r->action, (Action{"SCMP_ACT_ERRNO", 12}));
  EXPECT_EQ(Show(r->args), Show(std::vector<ArgCmp>{Cmp(1, Op::kEq, 4096), MaskedEq(2, 2, 2)}));
  ASSERT_EQ(r->args_json.size(), 2u);
  EXPECT_EQ(r->args_json[0], written["args"][0]);  // as written: no valueTwo added
  EXPECT_EQ(r->args_json[1], written["args"][1]);
  EXPECT_TRUE(r->Names("mmap2"));
  EXPECT_FALSE(r->Names("mprotect"));
  EXPECT_FALSE(r->HasRepeatedIndex());
}

TEST(SeccompRuleTest, ParseRuleShapes) {
  // args absent, null and empty are the same: an unconditional rule.
  for (const char* text : {R"({"names": ["brk"], "action": "SCMP_ACT_ALLOW"})",
                           R"({"names": ["brk"], "action": "SCMP_ACT_ALLOW", "args": null})",
                           R"({"names": ["brk"], "action": "SCMP_ACT_ALLOW", "args": []})"}) {
    const Rule r = MustParseRule(text);
    EXPECT_TRUE(r.args.empty()) << text;
    EXPECT_TRUE(r.args_json.empty()) << text;
    EXPECT_EQ(r.action, (Action{"SCMP_ACT_ALLOW", 0})) << text;
  }
  EXPECT_TRUE(MustParseRule(R"({"names": [], "action": "SCMP_ACT_LOG"})").names.empty());
  EXPECT_EQ(MustParseRule(R"({"names": ["ptrace"], "action": "SCMP_ACT_KILL"})").action,
            (Action{"SCMP_ACT_KILL_THREAD", 0}));
  EXPECT_EQ(
      MustParseRule(R"({"names": ["x"], "action": "SCMP_ACT_ERRNO", "errnoRet": null})").action,
      (Action{"SCMP_ACT_ERRNO", 1}));
  EXPECT_EQ(MustParseRule(R"({"names": ["x"], "action": "SCMP_ACT_ALLOW", "errnoRet": 5})").action,
            (Action{"SCMP_ACT_ALLOW", 0}));
  EXPECT_TRUE(MustParseRule(R"({"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [
                 {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                 {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]})")
                  .HasRepeatedIndex());
}

class ParseRuleError : public testing::TestWithParam<ErrorCase> {};

TEST_P(ParseRuleError, NamesTheField) {
  const ErrorCase& c = GetParam();
  Result<Rule> r = ParseRule(json::parse(c.json_text), kRuleField);
  ASSERT_FALSE(r.ok()) << c.json_text;
  EXPECT_EQ(r.status().message(), std::string(kRuleField) + c.message) << c.json_text;
}

INSTANTIATE_TEST_SUITE_P(
    Errors, ParseRuleError,
    testing::Values(
        ErrorCase{R"("read")", ": not an object"},
        ErrorCase{R"({"action": "SCMP_ACT_ALLOW"})", ".names: missing"},
        ErrorCase{R"({"names": "read", "action": "SCMP_ACT_ALLOW"})", ".names: not an array"},
        ErrorCase{R"({"names": ["read", 1], "action": "SCMP_ACT_ALLOW"})",
                  ".names[1]: not a string"},
        ErrorCase{R"({"names": ["read"]})", ".action: missing"},
        ErrorCase{R"({"names": ["read"], "action": ["SCMP_ACT_ALLOW"]})", ".action: not a string"},
        ErrorCase{R"({"names": ["read"], "action": "SCMP_ACT_NOPE"})",
                  R"(.action: unknown action "SCMP_ACT_NOPE")"},
        ErrorCase{R"({"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": -1})",
                  ": errnoRet: not an unsigned 32-bit integer"},
        ErrorCase{R"({"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 4294967296})",
                  ": errnoRet: not an unsigned 32-bit integer"},
        ErrorCase{R"({"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": {}})",
                  ".args: not an array"},
        ErrorCase{R"({"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [7]})",
                  ".args[0]: not an object"},
        ErrorCase{R"({"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [
                    {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                    {"index": 1, "value": 1, "op": "SCMP_CMP_NOPE"}]})",
                  R"(.args[1].op: unknown operator "SCMP_CMP_NOPE")"},
        ErrorCase{R"({"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [
                    {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1}]})",
                  ".args[1].op: missing"},
        ErrorCase{R"({"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [
                    {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                    {"index": 9, "op": "SCMP_CMP_EQ"}]})",
                  ".args[1].index: not an argument index 0-5"},
        // Fields are checked in order: names, action, errnoRet, args.
        ErrorCase{R"({"names": 1, "action": 1, "errnoRet": -1, "args": 1})",
                  ".names: not an array"},
        ErrorCase{R"({"names": [], "action": 1, "errnoRet": -1, "args": 1})",
                  ".action: not a string"},
        ErrorCase{R"({"names": [], "action": "SCMP_ACT_LOG", "errnoRet": -1, "args": 1})",
                  ": errnoRet: not an unsigned 32-bit integer"}));

// ---- the intersection of comparisons ----

struct CombineCase {
  const char* what;
  ArgCmp a;
  ArgCmp b;
  Combined want;
  ArgCmp replacement;  // only looked at for kReplace
};

void PrintTo(const CombineCase& c, std::ostream* os) { *os << c.what; }

class CombineSameArgTest : public testing::TestWithParam<CombineCase> {};

TEST_P(CombineSameArgTest, Outcome) {
  const CombineCase& c = GetParam();
  const ArgCmp untouched = Cmp(4, Op::kGt, 12345, 678);
  ArgCmp replacement = untouched;
  const Combined got = CombineSameArg(c.a, c.b, &replacement);
  EXPECT_EQ(Show(got), Show(c.want)) << c.what;
  if (c.want == Combined::kReplace) {
    EXPECT_EQ(Show(replacement), Show(c.replacement)) << c.what;
  } else {
    EXPECT_EQ(Show(replacement), Show(untouched)) << c.what << ": written without kReplace";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CombineSameArgTest,
    testing::Values(
        CombineCase{"equal masked", MaskedEq(2, 2, 2), MaskedEq(2, 2, 2), Combined::kKeepFirst},
        CombineCase{"equal half-lines", Cmp(0, Op::kGe, kHighHalf), Cmp(0, Op::kGe, kHighHalf),
                    Combined::kKeepFirst},
        CombineCase{"equal NE", Cmp(1, Op::kNe, 3), Cmp(1, Op::kNe, 3), Combined::kKeepFirst},
        // An EQ on either side decides by whether the other holds for its value.
        CombineCase{"EQ inside GE", Cmp(0, Op::kEq, 5), Cmp(0, Op::kGe, 3), Combined::kKeepFirst},
        CombineCase{"EQ outside LT", Cmp(0, Op::kEq, 5), Cmp(0, Op::kLt, 5), Combined::kEmpty},
        CombineCase{"EQ inside masked", Cmp(3, Op::kEq, 0x22), MaskedEq(3, 0x20, 0x20),
                    Combined::kKeepFirst},
        CombineCase{"EQ outside masked", Cmp(3, Op::kEq, 0x02), MaskedEq(3, 0x20, 0x20),
                    Combined::kEmpty},
        CombineCase{"two different EQ", Cmp(0, Op::kEq, 5), Cmp(0, Op::kEq, 6), Combined::kEmpty},
        CombineCase{"NE then EQ", Cmp(0, Op::kNe, 0), Cmp(0, Op::kEq, 5), Combined::kReplace,
                    Cmp(0, Op::kEq, 5)},
        CombineCase{"masked then EQ", MaskedEq(0, 0x100, 0), Cmp(0, Op::kEq, 0x11),
                    Combined::kReplace, Cmp(0, Op::kEq, 0x11)},
        CombineCase{"NE then its EQ", Cmp(0, Op::kNe, 5), Cmp(0, Op::kEq, 5), Combined::kEmpty},
        // Masked-eq pairs merge into one mask.
        CombineCase{"masked merge", MaskedEq(2, 0x2, 0x2), MaskedEq(2, 0x1, 0x0),
                    Combined::kReplace, MaskedEq(2, 0x3, 0x2)},
        CombineCase{"masked merge of other bits", MaskedEq(3, 0x02, 0x02), MaskedEq(3, 0x20, 0x20),
                    Combined::kReplace, MaskedEq(3, 0x22, 0x22)},
        CombineCase{"masked already implied", MaskedEq(3, 0x22, 0x20), MaskedEq(3, 0x20, 0x20),
                    Combined::kKeepFirst},
        CombineCase{"masked contradiction", MaskedEq(2, 0x2, 0x2), MaskedEq(2, 0x2, 0x0),
                    Combined::kEmpty},
        CombineCase{"masked contradiction on shared bits", MaskedEq(3, 0x22, 0x02),
                    MaskedEq(3, 0x20, 0x20), Combined::kEmpty},
        CombineCase{"unsatisfiable first", MaskedEq(0, 0x1, 0x2), MaskedEq(0, 0x4, 0x4),
                    Combined::kEmpty},
        CombineCase{"unsatisfiable second", MaskedEq(0, 0x4, 0x4), MaskedEq(0, 0x1, 0x2),
                    Combined::kEmpty},
        // The half-lines at 2^63 that split mmap from old_mmap.
        CombineCase{"GE 2^63 and LT 2^63", Cmp(0, Op::kGe, kHighHalf), Cmp(0, Op::kLt, kHighHalf),
                    Combined::kEmpty},
        CombineCase{"LT 2^63 and GE 2^63", Cmp(0, Op::kLt, kHighHalf), Cmp(0, Op::kGe, kHighHalf),
                    Combined::kEmpty},
        CombineCase{"GE above LT", Cmp(0, Op::kGe, 10), Cmp(0, Op::kLt, 5), Combined::kEmpty},
        CombineCase{"a true range", Cmp(0, Op::kGe, 5), Cmp(0, Op::kLt, kHighHalf),
                    Combined::kUnknown},
        CombineCase{"a true range, reversed", Cmp(0, Op::kLt, kHighHalf), Cmp(0, Op::kGe, 5),
                    Combined::kUnknown},
        CombineCase{"tighter GE kept", Cmp(0, Op::kGe, kHighHalf), Cmp(0, Op::kGe, 10),
                    Combined::kKeepFirst},
        CombineCase{"tighter GE replaces", Cmp(0, Op::kGe, 10), Cmp(0, Op::kGe, kHighHalf),
                    Combined::kReplace, Cmp(0, Op::kGe, kHighHalf)},
        CombineCase{"tighter LT kept", Cmp(0, Op::kLt, 5), Cmp(0, Op::kLt, kHighHalf),
                    Combined::kKeepFirst},
        CombineCase{"tighter LT replaces", Cmp(0, Op::kLt, kHighHalf), Cmp(0, Op::kLt, 5),
                    Combined::kReplace, Cmp(0, Op::kLt, 5)},
        // brk's cell `addr != 0` against comparisons that already exclude zero.
        CombineCase{"masked with a set bit excludes 0", MaskedEq(0, 0x1, 0x1), Cmp(0, Op::kNe, 0),
                    Combined::kKeepFirst},
        CombineCase{"masked with no set bit", MaskedEq(0, 0x1, 0x0), Cmp(0, Op::kNe, 0),
                    Combined::kUnknown},
        CombineCase{"GT excludes 0", Cmp(0, Op::kGt, 0), Cmp(0, Op::kNe, 0), Combined::kKeepFirst},
        CombineCase{"GE 1 excludes 0", Cmp(0, Op::kGe, 1), Cmp(0, Op::kNe, 0),
                    Combined::kKeepFirst},
        CombineCase{"GE 0 does not", Cmp(0, Op::kGe, 0), Cmp(0, Op::kNe, 0), Combined::kUnknown},
        CombineCase{"LE does not", Cmp(0, Op::kLe, 5), Cmp(0, Op::kNe, 0), Combined::kUnknown},
        // Anything else is not worked out (and not symmetric).
        CombineCase{"NE then masked", Cmp(0, Op::kNe, 0), MaskedEq(0, 0x1, 0x1),
                    Combined::kUnknown},
        CombineCase{"NE other than 0", Cmp(0, Op::kGt, 7), Cmp(0, Op::kNe, 3), Combined::kUnknown},
        CombineCase{"LE and GT", Cmp(0, Op::kLe, 5), Cmp(0, Op::kGt, 3), Combined::kUnknown},
        CombineCase{"masked and GE", MaskedEq(0, 0x1, 0x1), Cmp(0, Op::kGe, 4),
                    Combined::kUnknown}));

TEST(SeccompRuleTest, ConjoinWithAnUnconditionalRuleIsTheCell) {
  const Rule rule = MustParseRule(R"({"names": ["mmap"], "action": "SCMP_ACT_ALLOW"})");
  const Cell cell{true, {MaskedEq(2, 2, 2), MaskedEq(3, 2, 2)}};
  std::vector<ArgCmp> args;
  std::vector<json> args_json;
  EXPECT_EQ(Conjoin(rule, cell, &args, &args_json), Conjunction::kArgs);
  EXPECT_EQ(Show(args), Show(cell.args));
  EXPECT_EQ(args_json, (std::vector<json>{ToJson(cell.args[0]), ToJson(cell.args[1])}));
}

TEST(SeccompRuleTest, ConjoinKeepsTheRulesOrderThenAddsTheCellsOtherArguments) {
  const Rule rule = MustParseRule(R"({"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [
      {"index": 3, "value": 1, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"},
      {"index": 1, "value": 4096, "op": "SCMP_CMP_EQ"}]})");
  const Cell cell{true, {MaskedEq(2, 2, 2), MaskedEq(3, 2, 2), Cmp(0, Op::kLt, kHighHalf)}};
  std::vector<ArgCmp> args;
  std::vector<json> args_json;
  ASSERT_EQ(Conjoin(rule, cell, &args, &args_json), Conjunction::kArgs);
  EXPECT_EQ(Show(args), Show(std::vector<ArgCmp>{MaskedEq(3, 3, 3), Cmp(1, Op::kEq, 4096),
                                                 MaskedEq(2, 2, 2), Cmp(0, Op::kLt, kHighHalf)}));
  ASSERT_EQ(args_json.size(), 4u);
  EXPECT_EQ(args_json[0], ToJson(MaskedEq(3, 3, 3)));  // replaced: rewritten
  EXPECT_EQ(args_json[1], rule.args_json[1]);          // untouched: as written
  EXPECT_EQ(args_json[2], ToJson(MaskedEq(2, 2, 2)));
  EXPECT_EQ(args_json[3], ToJson(Cmp(0, Op::kLt, kHighHalf)));
}

TEST(SeccompRuleTest, ConjoinKeepsARuleComparisonTheCellImplies) {
  const Rule rule = MustParseRule(R"({"names": ["mprotect"], "action": "SCMP_ACT_ALLOW", "args": [
      {"index": 2, "value": 3, "valueTwo": 3, "op": "SCMP_CMP_MASKED_EQ"}]})");
  std::vector<json> args_json;
  ASSERT_EQ(Conjoin(rule, Cell{true, {MaskedEq(2, 2, 2)}}, nullptr, &args_json),
            Conjunction::kArgs);
  EXPECT_EQ(args_json, rule.args_json);
}

TEST(SeccompRuleTest, ConjoinEmptyAndUnknownLeaveTheOutputsAlone) {
  const Rule read_only = MustParseRule(R"({"names": ["mprotect"], "action": "SCMP_ACT_ALLOW",
      "args": [{"index": 2, "value": 2, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]})");
  const Rule low = MustParseRule(R"({"names": ["mmap"], "action": "SCMP_ACT_ALLOW",
      "args": [{"index": 0, "value": 4096, "op": "SCMP_CMP_GE"}]})");
  const std::vector<ArgCmp> sentinel = {Cmp(5, Op::kEq, 99)};
  const std::vector<json> sentinel_json = {json("sentinel")};
  std::vector<ArgCmp> args = sentinel;
  std::vector<json> args_json = sentinel_json;
  EXPECT_EQ(Conjoin(read_only, Cell{true, {MaskedEq(2, 2, 2)}}, &args, &args_json),
            Conjunction::kEmpty);
  EXPECT_EQ(Conjoin(low, Cell{true, {Cmp(0, Op::kLt, kHighHalf)}}, &args, &args_json),
            Conjunction::kUnknown);
  EXPECT_EQ(Show(args), Show(sentinel));
  EXPECT_EQ(args_json, sentinel_json);
}

TEST(SeccompRuleTest, ConjoinStopsAtTheFirstCellComparisonThatDecides) {
  // The cell's comparisons are taken in order: one not worked out ends the
  // conjunction as kUnknown even where a later one would have emptied it.
  const Rule rule = MustParseRule(R"({"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [
      {"index": 0, "value": 4096, "op": "SCMP_CMP_GE"},
      {"index": 2, "value": 2, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]})");
  EXPECT_EQ(
      Conjoin(rule, Cell{true, {Cmp(0, Op::kLt, kHighHalf), MaskedEq(2, 2, 2)}}, nullptr, nullptr),
      Conjunction::kUnknown);
  EXPECT_EQ(
      Conjoin(rule, Cell{true, {MaskedEq(2, 2, 2), Cmp(0, Op::kLt, kHighHalf)}}, nullptr, nullptr),
      Conjunction::kEmpty);
  EXPECT_EQ(Conjoin(rule, Cell{false, {Cmp(0, Op::kGe, kHighHalf)}}, nullptr, nullptr),
            Conjunction::kArgs);
}

TEST(SeccompRuleTest, ConjoinWithTheMmapHalfLines) {
  // old_mmap's cell and the x86-64 cells exclude each other on a rule that
  // already says which half it is in.
  const Rule high = MustParseRule(R"({"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [
      {"index": 0, "value": 9223372036854775808, "op": "SCMP_CMP_GE"}]})");
  EXPECT_EQ(Conjoin(high, Cell{true, {Cmp(0, Op::kGe, kHighHalf)}}, nullptr, nullptr),
            Conjunction::kArgs);
  EXPECT_EQ(
      Conjoin(high, Cell{true, {Cmp(0, Op::kLt, kHighHalf), MaskedEq(2, 2, 2)}}, nullptr, nullptr),
      Conjunction::kEmpty);
}

TEST(SeccompRuleTest, SplitLikeRuncLeavesARuleWithoutRepeatsAlone) {
  for (const char* text : {R"({"names": ["brk"], "action": "SCMP_ACT_ALLOW"})",
                           R"({"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [
            {"index": 2, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"},
            {"index": 3, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]})"}) {
    const Rule rule = MustParseRule(text);
    const std::vector<Rule> parts = SplitLikeRunc(rule);
    ASSERT_EQ(parts.size(), 1u) << text;
    EXPECT_EQ(Show(parts[0].args), Show(rule.args)) << text;
    EXPECT_EQ(parts[0].args_json, rule.args_json) << text;
    EXPECT_EQ(parts[0].original, rule.original) << text;
  }
}

TEST(SeccompRuleTest, SplitLikeRuncMakesOneRulePerComparison) {
  // Comparing argument 0 twice makes every comparison its own rule, the one
  // on argument 1 included: an OR of three.
  const Rule rule = MustParseRule(R"({"names": ["personality", "x"], "action": "SCMP_ACT_ERRNO",
      "errnoRet": 22, "args": [
      {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
      {"index": 1, "value": 2, "op": "SCMP_CMP_GT"},
      {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]})");
  const std::vector<Rule> parts = SplitLikeRunc(rule);
  ASSERT_EQ(parts.size(), 3u);
  for (size_t k = 0; k < parts.size(); ++k) {
    EXPECT_EQ(Show(parts[k].args), Show(std::vector<ArgCmp>{rule.args[k]})) << k;
    EXPECT_EQ(parts[k].args_json, std::vector<json>{rule.args_json[k]}) << k;
    EXPECT_EQ(parts[k].names, rule.names) << k;
    EXPECT_EQ(parts[k].action, (Action{"SCMP_ACT_ERRNO", 22})) << k;
    EXPECT_EQ(parts[k].original, rule.original) << k;  // still the rule as written
    EXPECT_FALSE(parts[k].HasRepeatedIndex()) << k;
  }
}

}  // namespace
}  // namespace ubc
