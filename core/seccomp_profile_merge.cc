#include "core/seccomp_profile_merge.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ubc {
namespace {

using nlohmann::json;

constexpr std::string_view kAllow = "SCMP_ACT_ALLOW";
constexpr std::string_view kLog = "SCMP_ACT_LOG";
constexpr std::string_view kErrno = "SCMP_ACT_ERRNO";
constexpr std::string_view kTrace = "SCMP_ACT_TRACE";
constexpr std::string_view kNotify = "SCMP_ACT_NOTIFY";
constexpr uint32_t kEperm = 1;    // runc's and crun's errno when errnoRet is absent
constexpr uint32_t kEnosys = 38;  // clone3's answer, as in Docker's default profile

// x86-64 values of the flags the cells test.
constexpr uint64_t kProtWrite = 0x2;
constexpr uint64_t kMapPrivate = 0x02;
constexpr uint64_t kMapAnonymous = 0x20;
constexpr uint64_t kMapGrowsDown = 0x100;
constexpr uint64_t kCloneVm = 0x100;
constexpr uint64_t kHighHalf = uint64_t{1} << 63;

constexpr std::array<std::string_view, 9> kKnownActions = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY"};

enum class Op { kNe, kLt, kLe, kEq, kGe, kGt, kMaskedEq };
constexpr std::array<std::pair<Op, std::string_view>, 7> kOps = {{
    {Op::kNe, "SCMP_CMP_NE"},
    {Op::kLt, "SCMP_CMP_LT"},
    {Op::kLe, "SCMP_CMP_LE"},
    {Op::kEq, "SCMP_CMP_EQ"},
    {Op::kGe, "SCMP_CMP_GE"},
    {Op::kGt, "SCMP_CMP_GT"},
    {Op::kMaskedEq, "SCMP_CMP_MASKED_EQ"},
}};

// One OCI argument comparison. For kMaskedEq, `value` is the mask and
// `value_two` the expected result, as runc passes them to libseccomp.
struct ArgCmp {
  uint32_t index = 0;
  Op op = Op::kEq;
  uint64_t value = 0;
  uint64_t value_two = 0;
  bool operator==(const ArgCmp&) const = default;
};

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

// An action as runc and crun compare it with the default action: KILL is
// KILL_THREAD, and ERRNO/TRACE carry their errno (EPERM when absent).
struct Action {
  std::string name;
  uint32_t errno_ret = 0;
  bool operator==(const Action&) const = default;
  bool Allows() const { return name == kAllow || name == kLog; }
};

Action MakeAction(std::string_view name, std::optional<uint32_t> errno_ret) {
  Action a;
  a.name = name == "SCMP_ACT_KILL" ? "SCMP_ACT_KILL_THREAD" : std::string(name);
  if (a.name == kErrno || a.name == kTrace) a.errno_ret = errno_ret.value_or(kEperm);
  return a;
}

struct Rule {
  json original;  // as written, to copy its other fields into derived rules
  std::vector<std::string> names;
  Action action;
  std::vector<ArgCmp> args;
  std::vector<json> args_json;  // args as written, parallel to `args`

  bool Names(std::string_view syscall) const {
    return std::find(names.begin(), names.end(), syscall) != names.end();
  }
  bool HasRepeatedIndex() const {
    std::set<uint32_t> seen;
    for (const ArgCmp& a : args) {
      if (!seen.insert(a.index).second) return true;
    }
    return false;
  }
};

// The argument cells of one memory syscall: disjoint, and together covering
// every call. NOTIFY cells are the accountable calls.
struct Cell {
  bool notify = false;
  std::vector<ArgCmp> args;
};

ArgCmp MaskedEq(uint32_t index, uint64_t mask, uint64_t expected) {
  return ArgCmp{index, Op::kMaskedEq, mask, expected};
}

struct MemorySyscall {
  std::string_view name;
  std::vector<Cell> cells;  // empty for clone3, which is answered ENOSYS instead
};

// mmap's cells with the register layout of x86-64 and of i386 mmap2, each
// refined by `extra` (comparisons on other arguments).
std::vector<Cell> MmapCells(const std::vector<ArgCmp>& extra) {
  std::vector<Cell> cells = {
      {true, {MaskedEq(2, kProtWrite, kProtWrite), MaskedEq(3, kMapPrivate, kMapPrivate)}},
      {true,
       {MaskedEq(2, kProtWrite, kProtWrite),
        MaskedEq(3, kMapPrivate | kMapAnonymous, kMapAnonymous)}},
      // Read-only but MAP_GROWSDOWN: a stack, counted in statm data (stack_vm)
      // and made writable whole by one PROT_GROWSDOWN mprotect.
      {true, {MaskedEq(2, kProtWrite, 0), MaskedEq(3, kMapGrowsDown, kMapGrowsDown)}},
      {false, {MaskedEq(2, kProtWrite, 0), MaskedEq(3, kMapGrowsDown, 0)}},
      {false, {MaskedEq(2, kProtWrite, kProtWrite), MaskedEq(3, kMapPrivate | kMapAnonymous, 0)}}};
  for (Cell& c : cells) c.args.insert(c.args.begin(), extra.begin(), extra.end());
  return cells;
}

// "mmap" is also i386's old_mmap, whose one argument points at the six in
// user memory, so its registers say nothing: every old_mmap must be trapped
// (ubcd refuses it), without trapping every x86-64 mmap. libseccomp compares
// only the low 32 bits of an argument on a 32-bit architecture, so a cell on
// `addr >= 2^63` is every call there and, on x86-64, only addresses no user
// mapping can have (a hint the kernel ignores, or EINVAL/ENOMEM). The other
// cells are those of mmap2 with `addr < 2^63`, which no i386 call matches.
std::vector<Cell> MmapAndOldMmapCells() {
  std::vector<Cell> cells = {{true, {ArgCmp{0, Op::kGe, kHighHalf, 0}}}};
  for (Cell& c : MmapCells({ArgCmp{0, Op::kLt, kHighHalf, 0}})) cells.push_back(std::move(c));
  return cells;
}

const std::vector<MemorySyscall>& MemorySyscalls() {
  static const std::vector<MemorySyscall> kSyscalls = {
      {"mmap", MmapAndOldMmapCells()},
      // i386 only: libseccomp resolves no x86-64 number for it.
      {"mmap2", MmapCells({})},
      {"mprotect",
       {{true, {MaskedEq(2, kProtWrite, kProtWrite)}}, {false, {MaskedEq(2, kProtWrite, 0)}}}},
      // mprotect with a protection key: the same effect on what is writable.
      {"pkey_mprotect",
       {{true, {MaskedEq(2, kProtWrite, kProtWrite)}}, {false, {MaskedEq(2, kProtWrite, 0)}}}},
      // A new private writable mapping (where user shadow stacks are on).
      {"map_shadow_stack", {{true, {}}}},
      {"brk", {{true, {ArgCmp{0, Op::kNe, 0, 0}}}, {false, {ArgCmp{0, Op::kEq, 0, 0}}}}},
      {"mremap", {{true, {}}}},
      {"clone", {{true, {MaskedEq(0, kCloneVm, 0)}}, {false, {MaskedEq(0, kCloneVm, kCloneVm)}}}},
      {"fork", {{true, {}}}},
      // Never charged: ubcd learns that the caller's image is being replaced.
      {"execve", {{true, {}}}},
      {"execveat", {{true, {}}}},
      {"clone3", {}},
  };
  return kSyscalls;
}

// ---- Conjunction of a rule's comparisons with a cell's ----

enum class Combined { kEmpty, kKeepFirst, kReplace, kUnknown };

// a AND b on the same argument, when it is one comparison (or nothing).
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

enum class Conjunction { kEmpty, kArgs, kUnknown };

// `rule` must have one comparison per argument. On kArgs, `args`/`args_json`
// hold the rule's comparisons refined by the cell's, in the rule's order, then
// the cell's comparisons on other arguments.
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

// runc and crun add a rule that compares one argument twice as one rule per
// comparison (an OR); anything derived from it must be built the same way.
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

// ---- Parsing ----

std::optional<uint64_t> AsUint64(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0)
    return static_cast<uint64_t>(v.get<int64_t>());
  return std::nullopt;
}

Status FieldError(const std::string& field, const std::string& what) {
  return Status::Error(field + ": " + what);
}

Result<std::optional<uint32_t>> ParseErrno(const json& object, const std::string& field) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return std::optional<uint32_t>();
  std::optional<uint64_t> v = AsUint64(*it);
  if (!v || *v > UINT32_MAX) return FieldError(field, "not an unsigned 32-bit integer");
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

// ---- The merge ----

json DerivedRule(const Rule& base, std::string_view syscall, const Action& action,
                 const std::vector<json>& args_json) {
  json out = base.original;
  out["names"] = json::array({syscall});
  out["action"] = action.name;
  if (action.name == kErrno) out["errnoRet"] = action.errno_ret;
  if (!args_json.empty()) {
    out["args"] = args_json;
  } else if (auto it = out.find("args"); it != out.end() && it->is_array() && !it->empty()) {
    out.erase(it);
  }
  return out;
}

class Merger {
 public:
  Merger(std::vector<Rule> rules, Action default_action)
      : rules_(std::move(rules)),
        default_(std::move(default_action)),
        remove_(rules_.size()),
        insert_after_(rules_.size()) {}

  Status MergeSyscall(const MemorySyscall& sys) {
    // The rules that decide this syscall, as runc and crun load them.
    std::vector<size_t> deciding;
    for (size_t i = 0; i < rules_.size(); ++i) {
      if (rules_[i].Names(sys.name) && !(rules_[i].action == default_)) deciding.push_back(i);
    }
    // libseccomp lets the first unconditional rule of a syscall override all
    // its conditional rules (docs/runtimes.md §2: an ALLOW-all rule silences a
    // NOTIFY rule for the same syscall).
    auto unconditional = std::find_if(deciding.begin(), deciding.end(),
                                      [&](size_t i) { return rules_[i].args.empty(); });
    if (unconditional != deciding.end()) {
      const size_t u = *unconditional;
      if (!rules_[u].action.Allows()) return Status::Ok();  // denied outright: untouched
      for (size_t i = 0; i < rules_.size(); ++i) {
        if (rules_[i].Names(sys.name)) remove_[i].insert(std::string(sys.name));
      }
      Emit(rules_[u], sys, &insert_after_[u]);
      return Status::Ok();
    }

    // Only conditional rules: where none matches, the default action decides.
    const bool default_allows = default_.Allows();
    if (default_allows) {
      for (size_t i : deciding) {
        const Rule& r = rules_[i];
        if (r.action.Allows() || r.action.name == kNotify) continue;
        if (OverlapsNotifyCells(r, sys)) {
          return Status::Error("linux.seccomp.syscalls[" + std::to_string(i) + "]: conditional " +
                               r.action.name + " rule for " + std::string(sys.name) +
                               " under defaultAction " + default_.name +
                               " overlaps the calls ubc must trap; cannot add notify rules "
                               "without changing its decisions");
        }
      }
    }
    // Where one allowing rule's comparisons cannot be intersected with the
    // cells exactly, it is notified whole; every other allowing rule of the
    // syscall is then notified whole too, so that no ALLOW derived from one
    // overlaps a NOTIFY derived from another (libseccomp orders overlapping
    // conditional rules by argument, not by intent). ubcd lets through what
    // charges nothing.
    bool coarse = false;
    for (size_t i : deciding) {
      if (!rules_[i].action.Allows()) continue;
      for (const Rule& part : SplitLikeRunc(rules_[i])) coarse = coarse || NeedsCoarse(part, sys);
    }
    for (size_t i : deciding) {
      if (!rules_[i].action.Allows()) continue;  // denials stay as they are, in place
      remove_[i].insert(std::string(sys.name));
      for (const Rule& part : SplitLikeRunc(rules_[i])) {
        if (coarse) {
          insert_after_[i].push_back(
              DerivedRule(part, sys.name, MakeAction(kNotify, std::nullopt), part.args_json));
        } else {
          Emit(part, sys, &insert_after_[i]);
        }
      }
    }
    if (default_allows) {
      // Rules repeating the allowing default are skipped by runc and crun, but
      // a loader that kept one unconditional rule would silence every notify
      // rule of the syscall: take the syscall out of them too.
      for (size_t i = 0; i < rules_.size(); ++i) {
        if (rules_[i].Names(sys.name) && rules_[i].action == default_) {
          remove_[i].insert(std::string(sys.name));
        }
      }
      EmitDefaultRegion(sys);
    }
    return Status::Ok();
  }

  json Syscalls() const {
    json out = json::array();
    for (size_t i = 0; i < rules_.size(); ++i) {
      if (remove_[i].empty()) {
        out.push_back(rules_[i].original);
      } else {
        json names = json::array();
        for (const std::string& n : rules_[i].names) {
          if (!remove_[i].count(n)) names.push_back(n);
        }
        if (!names.empty()) {
          json kept = rules_[i].original;
          kept["names"] = std::move(names);
          out.push_back(std::move(kept));
        }
      }
      for (const json& r : insert_after_[i]) out.push_back(r);
    }
    for (const json& r : appended_) out.push_back(r);
    return out;
  }

 private:
  // Rules for `sys` replacing the allowing rule `r` (one comparison per argument).
  void Emit(const Rule& r, const MemorySyscall& sys, std::vector<json>* out) {
    if (sys.cells.empty()) {  // clone3
      const Action enosys = MakeAction(kErrno, kEnosys);
      if (!(enosys == default_)) out->push_back(DerivedRule(r, sys.name, enosys, r.args_json));
      return;
    }
    bool any_notify = false;
    bool any_unknown = false;
    for (const Cell& cell : sys.cells) {
      const Conjunction kind = Conjoin(r, cell, nullptr, nullptr);
      if (cell.notify && kind != Conjunction::kEmpty) any_notify = true;
      if (kind == Conjunction::kUnknown) any_unknown = true;
    }
    if (!any_notify) {
      // The rule only ever allows calls that charge nothing (this is also what
      // ubc's own pass-through cells look like on a second merge).
      out->push_back(DerivedRule(r, sys.name, r.action, r.args_json));
      return;
    }
    if (any_unknown) {
      // The rule's comparisons and the cells' cannot be intersected exactly:
      // notify on the whole rule; ubcd classifies each call precisely and lets
      // the ones that charge nothing continue.
      out->push_back(DerivedRule(r, sys.name, MakeAction(kNotify, std::nullopt), r.args_json));
      return;
    }
    for (const Cell& cell : sys.cells) {
      std::vector<json> args_json;
      if (Conjoin(r, cell, nullptr, &args_json) != Conjunction::kArgs) continue;
      const Action action = cell.notify ? MakeAction(kNotify, std::nullopt) : r.action;
      if (action == default_) continue;  // runc and crun skip it; the default decides anyway
      out->push_back(DerivedRule(r, sys.name, action, args_json));
    }
  }

  // Whether Emit would notify `r` whole (its comparisons and the cells'
  // cannot be intersected exactly where a cell notifies).
  static bool NeedsCoarse(const Rule& r, const MemorySyscall& sys) {
    bool any_notify = false, any_unknown = false;
    for (const Cell& cell : sys.cells) {
      const Conjunction kind = Conjoin(r, cell, nullptr, nullptr);
      if (cell.notify && kind != Conjunction::kEmpty) any_notify = true;
      if (kind == Conjunction::kUnknown) any_unknown = true;
    }
    return any_notify && any_unknown;
  }

  bool OverlapsNotifyCells(const Rule& r, const MemorySyscall& sys) const {
    if (sys.cells.empty()) return true;  // clone3: every call is answered ENOSYS
    for (const Rule& part : SplitLikeRunc(r)) {
      for (const Cell& cell : sys.cells) {
        if (cell.notify && Conjoin(part, cell, nullptr, nullptr) != Conjunction::kEmpty)
          return true;
      }
    }
    return false;
  }

  // Calls no rule matches get the allowing default: notify the accountable ones.
  void EmitDefaultRegion(const MemorySyscall& sys) {
    Rule base;
    base.original = json::object();
    if (sys.cells.empty()) {
      const Action enosys = MakeAction(kErrno, kEnosys);
      base.action = enosys;
      appended_.push_back(DerivedRule(base, sys.name, enosys, {}));
      return;
    }
    const Action notify = MakeAction(kNotify, std::nullopt);
    for (const Cell& cell : sys.cells) {
      if (!cell.notify || HasNotifyRule(sys.name, cell.args)) continue;
      std::vector<json> args_json;
      for (const ArgCmp& c : cell.args) args_json.push_back(ToJson(c));
      appended_.push_back(DerivedRule(base, sys.name, notify, args_json));
    }
  }

  // Whether the profile (after this merge) already notifies exactly this cell:
  // keeps a second merge from appending the same rules again.
  bool HasNotifyRule(std::string_view syscall, const std::vector<ArgCmp>& args) const {
    for (size_t i = 0; i < rules_.size(); ++i) {
      const Rule& r = rules_[i];
      if (r.Names(syscall) && !remove_[i].count(std::string(syscall)) && r.action.name == kNotify &&
          r.args == args) {
        return true;
      }
    }
    return false;
  }

  std::vector<Rule> rules_;
  Action default_;
  std::vector<std::set<std::string>> remove_;
  std::vector<std::vector<json>> insert_after_;
  std::vector<json> appended_;
};

}  // namespace

Result<json> MergeUbcNotifyRules(const json* existing_linux_seccomp,
                                 std::string_view listener_path) {
  json profile;
  if (existing_linux_seccomp == nullptr || existing_linux_seccomp->is_null()) {
    profile = json{{"defaultAction", kAllow},
                   {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
                   {"syscalls", json::array()}};
  } else {
    profile = *existing_linux_seccomp;
  }
  if (!profile.is_object()) return FieldError("linux.seccomp", "not an object");

  Result<std::string> default_name =
      ParseActionName(profile, "defaultAction", "linux.seccomp.defaultAction");
  if (!default_name.ok()) return default_name.status();
  if (*default_name == kNotify) {
    return FieldError("linux.seccomp.defaultAction",
                      "SCMP_ACT_NOTIFY as the default action is refused by runc and crun");
  }
  Result<std::optional<uint32_t>> default_errno = ParseErrno(profile, "defaultErrnoRet");
  if (!default_errno.ok()) return default_errno.status().Wrap("linux.seccomp");

  if (auto it = profile.find("listenerPath"); it != profile.end() && !it->is_null()) {
    if (!it->is_string()) return FieldError("linux.seccomp.listenerPath", "not a string");
    const std::string existing = it->get<std::string>();
    if (!existing.empty() && existing != listener_path) {
      return FieldError("linux.seccomp.listenerPath",
                        "already set to " + json(existing).dump() +
                            ": the container notifies another agent; ubc needs " +
                            json(std::string(listener_path)).dump());
    }
  }

  std::vector<Rule> rules;
  if (auto it = profile.find("syscalls"); it != profile.end() && !it->is_null()) {
    if (!it->is_array()) return FieldError("linux.seccomp.syscalls", "not an array");
    for (size_t i = 0; i < it->size(); ++i) {
      Result<Rule> rule = ParseRule((*it)[i], "linux.seccomp.syscalls[" + std::to_string(i) + "]");
      if (!rule.ok()) return rule.status();
      rules.push_back(std::move(*rule));
    }
  }

  Merger merger(std::move(rules), MakeAction(*default_name, *default_errno));
  for (const MemorySyscall& sys : MemorySyscalls()) {
    if (Status s = merger.MergeSyscall(sys); !s.ok()) return s;
  }
  profile["syscalls"] = merger.Syscalls();
  profile["listenerPath"] = listener_path;
  return profile;
}

}  // namespace ubc
