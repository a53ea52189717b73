#include "core/seccomp_rule.h"

#include <algorithm>
#include <array>
#include <set>
#include <utility>

namespace ubc {
namespace {

using nlohmann::json;

constexpr uint32_t kEperm = 1;  // runc's and crun's errno when errnoRet is absent

// What ParseActionName accepts: the actions of the OCI runtime spec.
constexpr std::array<std::string_view, 9> kKnownActions = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY"};

constexpr std::array<std::pair<Op, std::string_view>, 7> kOps = {{
    {Op::kNe, "SCMP_CMP_NE"},
    {Op::kLt, "SCMP_CMP_LT"},
    {Op::kLe, "SCMP_CMP_LE"},
    {Op::kEq, "SCMP_CMP_EQ"},
    {Op::kGe, "SCMP_CMP_GE"},
    {Op::kGt, "SCMP_CMP_GT"},
    {Op::kMaskedEq, "SCMP_CMP_MASKED_EQ"},
}};

std::optional<uint64_t> AsUint64(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0)
    return static_cast<uint64_t>(v.get<int64_t>());
  return std::nullopt;
}

}  // namespace

std::string_view OpName(Op op) {
  for (const auto& [o, name] : kOps) {
    if (o == op) return name;
  }
  return "";
}

json ToJson(const ArgCmp& c) {
  return json{
      {"index", c.index}, {"value", c.value}, {"valueTwo", c.value_two}, {"op", OpName(c.op)}};
}

ArgCmp MaskedEq(uint32_t index, uint64_t mask, uint64_t expected) {
  return ArgCmp{index, Op::kMaskedEq, mask, expected};
}

bool Holds(const ArgCmp& c, uint64_t x) {
  switch (c.op) {
    case Op::kNe:
      return x != c.value;
    case Op::kLt:
      return x < c.value;
    case Op::kLe:
      return x <= c.value;
    case Op::kEq:
      return x == c.value;
    case Op::kGe:
      return x >= c.value;
    case Op::kGt:
      return x > c.value;
    case Op::kMaskedEq:
      return (x & c.value) == c.value_two;
  }
  return false;
}

Action MakeAction(std::string_view name, std::optional<uint32_t> errno_ret) {
  Action a;
  a.name = name == "SCMP_ACT_KILL" ? "SCMP_ACT_KILL_THREAD" : std::string(name);
  if (a.name == kErrno || a.name == kTrace) a.errno_ret = errno_ret.value_or(kEperm);
  return a;
}

bool Rule::Names(std::string_view syscall) const {
  return std::find(names.begin(), names.end(), syscall) != names.end();
}

bool Rule::HasRepeatedIndex() const {
  std::set<uint32_t> seen;
  for (const ArgCmp& a : args) {
    if (!seen.insert(a.index).second) return true;
  }
  return false;
}

// ---- Parsing ----

Status FieldError(const std::string& field, const std::string& what) {
  return Status::Error(field + ": " + what);
}

Result<std::optional<uint32_t>> ParseErrno(const json& object, const std::string& key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::optional<uint32_t>();
  std::optional<uint64_t> v = AsUint64(*it);
  if (!v || *v > UINT32_MAX) return FieldError(key, "not an unsigned 32-bit integer");
  return std::optional<uint32_t>(static_cast<uint32_t>(*v));
}

Result<std::string> ParseActionName(const json& object, const std::string& key,
                                    const std::string& field) {
  auto it = object.find(key);
  if (it == object.end()) return FieldError(field, "missing");
  if (!it->is_string()) return FieldError(field, "not a string");
  const std::string name = it->get<std::string>();
  if (std::find(kKnownActions.begin(), kKnownActions.end(), name) == kKnownActions.end()) {
    return FieldError(field, "unknown action " + json(name).dump());
  }
  return name;
}

Result<ArgCmp> ParseArg(const json& arg, const std::string& field) {
  if (!arg.is_object()) return FieldError(field, "not an object");
  ArgCmp c;
  auto index = arg.find("index");
  if (index == arg.end()) return FieldError(field + ".index", "missing");
  std::optional<uint64_t> i = AsUint64(*index);
  if (!i || *i > 5) return FieldError(field + ".index", "not an argument index 0-5");
  c.index = static_cast<uint32_t>(*i);
  for (const auto& [key, target] : {std::pair{"value", &c.value}, {"valueTwo", &c.value_two}}) {
    auto it = arg.find(key);
    if (it == arg.end() || it->is_null()) continue;
    std::optional<uint64_t> v = AsUint64(*it);
    if (!v) return FieldError(field + "." + key, "not an unsigned 64-bit integer");
    *target = *v;
  }
  auto op = arg.find("op");
  if (op == arg.end()) return FieldError(field + ".op", "missing");
  if (!op->is_string()) return FieldError(field + ".op", "not a string");
  const std::string op_name = op->get<std::string>();
  auto known =
      std::find_if(kOps.begin(), kOps.end(), [&](const auto& p) { return p.second == op_name; });
  if (known == kOps.end())
    return FieldError(field + ".op", "unknown operator " + json(op_name).dump());
  c.op = known->first;
  return c;
}

Result<Rule> ParseRule(const json& rule_json, const std::string& field) {
  if (!rule_json.is_object()) return FieldError(field, "not an object");
  Rule rule;
  rule.original = rule_json;
  auto names = rule_json.find("names");
  if (names == rule_json.end()) return FieldError(field + ".names", "missing");
  if (!names->is_array()) return FieldError(field + ".names", "not an array");
  for (size_t k = 0; k < names->size(); ++k) {
    if (!(*names)[k].is_string()) {
      return FieldError(field + ".names[" + std::to_string(k) + "]", "not a string");
    }
    rule.names.push_back((*names)[k].get<std::string>());
  }
  Result<std::string> action = ParseActionName(rule_json, "action", field + ".action");
  if (!action.ok()) return action.status();
  Result<std::optional<uint32_t>> errno_ret = ParseErrno(rule_json, "errnoRet");
  if (!errno_ret.ok()) return errno_ret.status().Wrap(field);
  rule.action = MakeAction(*action, *errno_ret);
  auto args = rule_json.find("args");
  if (args != rule_json.end() && !args->is_null()) {
    if (!args->is_array()) return FieldError(field + ".args", "not an array");
    for (size_t k = 0; k < args->size(); ++k) {
      Result<ArgCmp> c = ParseArg((*args)[k], field + ".args[" + std::to_string(k) + "]");
      if (!c.ok()) return c.status();
      rule.args.push_back(*c);
      rule.args_json.push_back((*args)[k]);
    }
  }
  return rule;
}

// ---- Conjunction of a rule's comparisons with a cell's ----

Combined CombineSameArg(const ArgCmp& a, const ArgCmp& b, ArgCmp* replacement) {
  if (a == b) return Combined::kKeepFirst;
  if (a.op == Op::kEq) return Holds(b, a.value) ? Combined::kKeepFirst : Combined::kEmpty;
  if (b.op == Op::kEq) {
    if (!Holds(a, b.value)) return Combined::kEmpty;
    *replacement = b;
    return Combined::kReplace;
  }
  if (a.op == Op::kMaskedEq && b.op == Op::kMaskedEq) {
    // (x & m1) == v1 && (x & m2) == v2  <=>  (x & (m1|m2)) == (v1|v2), provided
    // each is satisfiable and they agree on the bits both masks test.
    if ((a.value_two & ~a.value) != 0 || (b.value_two & ~b.value) != 0) return Combined::kEmpty;
    if ((a.value_two & b.value) != (b.value_two & a.value)) return Combined::kEmpty;
    const ArgCmp merged = MaskedEq(a.index, a.value | b.value, a.value_two | b.value_two);
    if (merged == a) return Combined::kKeepFirst;
    *replacement = merged;
    return Combined::kReplace;
  }
  // Half-lines (ubc's own cells split mmap at 2^63 with GE and LT).
  const auto lower = [](const ArgCmp& c) { return c.op == Op::kGe; };  // x >= value
  const auto upper = [](const ArgCmp& c) { return c.op == Op::kLt; };  // x < value
  if ((lower(a) && upper(b)) || (upper(a) && lower(b))) {
    const uint64_t lo = lower(a) ? a.value : b.value;
    const uint64_t hi = upper(a) ? a.value : b.value;
    if (hi <= lo) return Combined::kEmpty;
    return Combined::kUnknown;
  }
  if ((lower(a) && lower(b)) || (upper(a) && upper(b))) {
    const bool a_tighter = lower(a) ? a.value >= b.value : a.value <= b.value;
    if (a_tighter) return Combined::kKeepFirst;
    *replacement = b;
    return Combined::kReplace;
  }
  if (b.op == Op::kNe && b.value == 0) {
    // Comparisons that already exclude zero.
    if (a.op == Op::kMaskedEq && (a.value_two & a.value) != 0 && (a.value_two & ~a.value) == 0) {
      return Combined::kKeepFirst;
    }
    if (a.op == Op::kGt || (a.op == Op::kGe && a.value > 0)) return Combined::kKeepFirst;
  }
  return Combined::kUnknown;
}

Conjunction Conjoin(const Rule& rule, const Cell& cell, std::vector<ArgCmp>* args,
                    std::vector<json>* args_json) {
  std::vector<ArgCmp> out = rule.args;
  std::vector<json> out_json = rule.args_json;
  for (const ArgCmp& c : cell.args) {
    auto it =
        std::find_if(out.begin(), out.end(), [&](const ArgCmp& a) { return a.index == c.index; });
    if (it == out.end()) {
      out.push_back(c);
      out_json.push_back(ToJson(c));
      continue;
    }
    ArgCmp replacement;
    switch (CombineSameArg(*it, c, &replacement)) {
      case Combined::kEmpty:
        return Conjunction::kEmpty;
      case Combined::kUnknown:
        return Conjunction::kUnknown;
      case Combined::kKeepFirst:
        break;
      case Combined::kReplace:
        *it = replacement;
        out_json[static_cast<size_t>(it - out.begin())] = ToJson(replacement);
        break;
    }
  }
  if (args) *args = std::move(out);
  if (args_json) *args_json = std::move(out_json);
  return Conjunction::kArgs;
}

std::vector<Rule> SplitLikeRunc(const Rule& rule) {
  if (!rule.HasRepeatedIndex()) return {rule};
  std::vector<Rule> out;
  for (size_t k = 0; k < rule.args.size(); ++k) {
    Rule single = rule;
    single.args = {rule.args[k]};
    single.args_json = {rule.args_json[k]};
    out.push_back(std::move(single));
  }
  return out;
}

}  // namespace ubc
