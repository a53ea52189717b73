// Seccomp rule: the vocabulary of one OCI `linux.seccomp.syscalls[]` rule as
// runc and crun hand it to libseccomp, and the exact intersection of argument
// comparisons that the profile merge (core/seccomp_profile_merge.h) builds on.
//
// A Rule is parsed from its JSON (ParseRule) and keeps the JSON as written, so
// rules derived from it carry its other fields. Actions are compared the way
// the loaders compare them with the default action (MakeAction). Conjoin
// intersects a rule's comparisons with a Cell's where the result is again one
// comparison per argument, and says kUnknown where it is not (the merge then
// traps coarsely instead of guessing). SplitLikeRunc turns a rule comparing
// one argument twice into the OR runc and crun load it as.
//
// Plain values and pure functions; thread-safe. Errors are values naming the
// offending field.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ubc {

inline constexpr std::string_view kAllow = "SCMP_ACT_ALLOW";
inline constexpr std::string_view kLog = "SCMP_ACT_LOG";
inline constexpr std::string_view kErrno = "SCMP_ACT_ERRNO";
inline constexpr std::string_view kTrace = "SCMP_ACT_TRACE";
inline constexpr std::string_view kNotify = "SCMP_ACT_NOTIFY";

// libseccomp's argument comparison operators (SCMP_CMP_*).
enum class Op { kNe, kLt, kLe, kEq, kGe, kGt, kMaskedEq };

// "SCMP_CMP_NE" and so on.
std::string_view OpName(Op op);

// One OCI argument comparison. For kMaskedEq, `value` is the mask and
// `value_two` the expected result, as runc passes them to libseccomp.
struct ArgCmp {
  uint32_t index = 0;
  Op op = Op::kEq;
  uint64_t value = 0;
  uint64_t value_two = 0;
  bool operator==(const ArgCmp&) const = default;
};

ArgCmp MaskedEq(uint32_t index, uint64_t mask, uint64_t expected);

// The comparison as an OCI `args[]` entry (all four fields written).
nlohmann::json ToJson(const ArgCmp& c);

// Whether argument value `x` satisfies `c` (the index is not looked at).
bool Holds(const ArgCmp& c, uint64_t x);

// An action as runc and crun compare it with the default action: KILL is
// KILL_THREAD, and ERRNO/TRACE carry their errno (EPERM when absent).
struct Action {
  std::string name;
  uint32_t errno_ret = 0;
  bool operator==(const Action&) const = default;
  bool Allows() const { return name == kAllow || name == kLog; }
};

// `errno_ret` is ignored unless `name` is ERRNO or TRACE.
Action MakeAction(std::string_view name, std::optional<uint32_t> errno_ret);

struct Rule {
  nlohmann::json original;  // as written, to copy its other fields into derived rules
  std::vector<std::string> names;
  Action action;
  std::vector<ArgCmp> args;
  std::vector<nlohmann::json> args_json;  // args as written, parallel to `args`

  bool Names(std::string_view syscall) const;
  bool HasRepeatedIndex() const;
};

// A region of one syscall's argument space: the calls satisfying every one of
// `args` (at most one comparison per argument). `notify` marks the calls ubc
// must see.
struct Cell {
  bool notify = false;
  std::vector<ArgCmp> args;
};

// ---- Parsing ----

// "<field>: <what>", the form of every error here.
Status FieldError(const std::string& field, const std::string& what);

// `object[key]`, which must be one of the SCMP_ACT_* names; errors name `field`.
Result<std::string> ParseActionName(const nlohmann::json& object, const std::string& key,
                                    const std::string& field);

// `object[key]` as an errno: absent or null gives nullopt. Errors name only
// `key`; callers wrap them with the object's path.
Result<std::optional<uint32_t>> ParseErrno(const nlohmann::json& object, const std::string& key);

// One `args[]` entry; `field` is its path, e.g. "linux.seccomp.syscalls[0].args[1]".
Result<ArgCmp> ParseArg(const nlohmann::json& arg, const std::string& field);

// One `syscalls[]` entry; `field` is its path, e.g. "linux.seccomp.syscalls[0]".
Result<Rule> ParseRule(const nlohmann::json& rule_json, const std::string& field);

// ---- Conjunction of a rule's comparisons with a cell's ----

enum class Combined { kEmpty, kKeepFirst, kReplace, kUnknown };

// a AND b on the same argument, when it is one comparison (or nothing):
// kEmpty (no value satisfies both), kKeepFirst (a alone says it), kReplace
// (`*replacement` says it), or kUnknown (not one comparison, or not worked out).
Combined CombineSameArg(const ArgCmp& a, const ArgCmp& b, ArgCmp* replacement);

enum class Conjunction { kEmpty, kArgs, kUnknown };

// `rule` must have one comparison per argument. On kArgs, `args`/`args_json`
// (either may be null) hold the rule's comparisons refined by the cell's, in
// the rule's order, then the cell's comparisons on other arguments.
Conjunction Conjoin(const Rule& rule, const Cell& cell, std::vector<ArgCmp>* args,
                    std::vector<nlohmann::json>* args_json);

// runc and crun add a rule that compares one argument twice as one rule per
// comparison (an OR); anything derived from it must be built the same way.
// Any other rule is returned as the only element.
std::vector<Rule> SplitLikeRunc(const Rule& rule);

}  // namespace ubc
