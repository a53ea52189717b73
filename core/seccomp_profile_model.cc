#include "core/seccomp_profile_model.h"

#include <algorithm>
#include <optional>
#include <set>

namespace ubc {
namespace {

using nlohmann::json;

constexpr uint32_t kEperm = 1;

// libseccomp's action precedence, most restrictive first (seccomp(2)).
constexpr std::array<std::string_view, 8> kPrecedence = {
    "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
    "SCMP_ACT_NOTIFY",       "SCMP_ACT_TRACE",       "SCMP_ACT_LOG",  "SCMP_ACT_ALLOW"};

size_t Rank(const std::string& action) {
  return static_cast<size_t>(std::find(kPrecedence.begin(), kPrecedence.end(), action) -
                             kPrecedence.begin());
}

std::optional<uint64_t> AsUint64(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0)
    return static_cast<uint64_t>(v.get<int64_t>());
  return std::nullopt;
}

Result<SeccompDecision> ParseDecision(const json& object, const char* action_key,
                                      const char* errno_key, const std::string& where) {
  auto action = object.find(action_key);
  if (action == object.end() || !action->is_string()) {
    return Status::Error(where + "." + action_key + ": missing or not a string");
  }
  SeccompDecision d;
  d.action = action->get<std::string>();
  if (d.action == "SCMP_ACT_KILL") d.action = "SCMP_ACT_KILL_THREAD";
  if (Rank(d.action) == kPrecedence.size()) {
    return Status::Error(where + "." + action_key + ": unknown action " + d.action);
  }
  if (d.action == "SCMP_ACT_ERRNO" || d.action == "SCMP_ACT_TRACE") {
    d.errno_ret = kEperm;
    auto e = object.find(errno_key);
    if (e != object.end() && !e->is_null()) {
      std::optional<uint64_t> v = AsUint64(*e);
      if (!v) return Status::Error(where + "." + errno_key + ": not an unsigned integer");
      d.errno_ret = static_cast<uint32_t>(*v);
    }
  }
  return d;
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const SeccompDecision& d) {
  os << d.action;
  if (d.action == "SCMP_ACT_ERRNO" || d.action == "SCMP_ACT_TRACE") os << "(" << d.errno_ret << ")";
  if (d.ambiguous) os << " [ambiguous]";
  return os;
}

Result<SeccompProfileModel> SeccompProfileModel::Create(const json& linux_seccomp) {
  SeccompProfileModel model;
  if (linux_seccomp.is_null()) {
    model.default_.action = "SCMP_ACT_ALLOW";
    return model;
  }
  if (!linux_seccomp.is_object()) return Status::Error("seccomp: not an object");
  Result<SeccompDecision> def =
      ParseDecision(linux_seccomp, "defaultAction", "defaultErrnoRet", "seccomp");
  if (!def.ok()) return def.status();
  model.default_ = *def;

  const json syscalls = linux_seccomp.value("syscalls", json::array());
  if (!syscalls.is_array() && !syscalls.is_null())
    return Status::Error("seccomp.syscalls: not an array");
  for (size_t i = 0; i < syscalls.size(); ++i) {
    const std::string where = "seccomp.syscalls[" + std::to_string(i) + "]";
    const json& r = syscalls[i];
    if (!r.is_object()) return Status::Error(where + ": not an object");
    Result<SeccompDecision> d = ParseDecision(r, "action", "errnoRet", where);
    if (!d.ok()) return d.status();
    std::vector<Comparison> conditions;
    const json args = r.value("args", json::array());
    for (const json& a : args.is_null() ? json::array() : args) {
      Comparison c{};
      std::optional<uint64_t> index = AsUint64(a.value("index", json()));
      if (!index || *index > 5) return Status::Error(where + ": bad argument index");
      c.index = static_cast<unsigned>(*index);
      c.op = a.value("op", "");
      c.value = AsUint64(a.value("value", json(0))).value_or(0);
      c.value_two = AsUint64(a.value("valueTwo", json(0))).value_or(0);
      static const std::set<std::string> kOps = {"SCMP_CMP_NE",       "SCMP_CMP_LT", "SCMP_CMP_LE",
                                                 "SCMP_CMP_EQ",       "SCMP_CMP_GE", "SCMP_CMP_GT",
                                                 "SCMP_CMP_MASKED_EQ"};
      if (!kOps.count(c.op)) return Status::Error(where + ": unknown operator " + c.op);
      conditions.push_back(c);
    }
    // runc/crun: comparing one argument twice turns the rule into one rule per
    // comparison.
    std::set<unsigned> indices;
    for (const Comparison& c : conditions) indices.insert(c.index);
    std::vector<std::vector<Comparison>> alternatives;
    if (indices.size() == conditions.size()) {
      alternatives.push_back(conditions);
    } else {
      for (const Comparison& c : conditions) alternatives.push_back({c});
    }
    const json names = r.value("names", json::array());
    if (!names.is_array()) return Status::Error(where + ".names: not an array");
    for (const json& name : names) {
      if (!name.is_string()) return Status::Error(where + ".names: not a string");
      model.named_.push_back(name.get<std::string>());
    }
    // runc/crun: a rule with the default's action is redundant and skipped.
    if (*d == model.default_) continue;
    for (const json& name : names) {
      for (const auto& alt : alternatives) {
        model.rules_.push_back(Rule{name.get<std::string>(), *d, alt});
      }
    }
  }
  return model;
}

bool SeccompProfileModel::Holds(const Comparison& c, uint64_t arg) {
  if (c.op == "SCMP_CMP_NE") return arg != c.value;
  if (c.op == "SCMP_CMP_LT") return arg < c.value;
  if (c.op == "SCMP_CMP_LE") return arg <= c.value;
  if (c.op == "SCMP_CMP_EQ") return arg == c.value;
  if (c.op == "SCMP_CMP_GE") return arg >= c.value;
  if (c.op == "SCMP_CMP_GT") return arg > c.value;
  return (arg & c.value) == c.value_two;  // SCMP_CMP_MASKED_EQ: value is the mask
}

SeccompDecision SeccompProfileModel::Evaluate(std::string_view syscall,
                                              const std::array<uint64_t, 6>& args) const {
  std::optional<SeccompDecision> conditional;
  for (const Rule& r : rules_) {
    if (r.syscall != syscall) continue;
    if (r.conditions.empty()) return r.decision;  // the first unconditional rule decides
  }
  for (const Rule& r : rules_) {
    if (r.syscall != syscall) continue;
    const bool match = std::all_of(r.conditions.begin(), r.conditions.end(),
                                   [&](const Comparison& c) { return Holds(c, args[c.index]); });
    if (!match) continue;
    if (!conditional) {
      conditional = r.decision;
    } else if (r.decision.action != conditional->action ||
               r.decision.errno_ret != conditional->errno_ret) {
      const bool more_restrictive = Rank(r.decision.action) < Rank(conditional->action) ||
                                    (r.decision.action == conditional->action &&
                                     r.decision.errno_ret < conditional->errno_ret);
      if (more_restrictive) conditional = r.decision;
      conditional->ambiguous = true;
    }
  }
  return conditional ? *conditional : default_;
}

std::vector<std::string> SeccompProfileModel::NamedSyscalls() const {
  std::set<std::string> names(named_.begin(), named_.end());
  return {names.begin(), names.end()};
}

namespace {

bool AnyIn(const json& list, const std::set<std::string>& set) {
  if (!list.is_array()) return false;
  for (const json& item : list) {
    if (item.is_string() && set.count(item.get<std::string>())) return true;
  }
  return false;
}

bool AllIn(const json& list, const std::set<std::string>& set) {
  if (!list.is_array()) return true;
  for (const json& item : list) {
    if (!item.is_string() || !set.count(item.get<std::string>())) return false;
  }
  return true;
}

}  // namespace

json ConvertLikePodman(const json& profile, const std::set<std::string>& bounding_caps) {
  const std::set<std::string> arch = {"amd64"};
  json out = {{"defaultAction", profile.value("defaultAction", json())}};
  if (profile.contains("defaultErrnoRet")) out["defaultErrnoRet"] = profile["defaultErrnoRet"];
  json architectures = json::array();
  for (const json& m : profile.value("archMap", json::array())) {
    if (m.value("architecture", "") != "SCMP_ARCH_X86_64") continue;
    architectures.push_back(m["architecture"]);
    for (const json& sub : m.value("subArchitectures", json::array())) architectures.push_back(sub);
  }
  out["architectures"] = architectures;
  json syscalls = json::array();
  for (const json& rule : profile.value("syscalls", json::array())) {
    const json includes = rule.value("includes", json::object());
    const json excludes = rule.value("excludes", json::object());
    if (AnyIn(excludes.value("arches", json()), arch)) continue;
    if (AnyIn(excludes.value("caps", json()), bounding_caps)) continue;
    if (includes.contains("arches") && !AnyIn(includes["arches"], arch)) continue;
    if (!AllIn(includes.value("caps", json()), bounding_caps)) continue;
    json converted = {{"names", rule.value("names", json::array())}, {"action", rule["action"]}};
    const json args = rule.value("args", json());
    if (args.is_array() && !args.empty()) {
      json out_args = json::array();
      for (const json& a : args) {
        out_args.push_back({{"index", a.value("index", 0)},
                            {"value", a.value("value", uint64_t{0})},
                            {"valueTwo", a.value("valueTwo", uint64_t{0})},
                            {"op", a.value("op", "")}});
      }
      converted["args"] = out_args;
    }
    if (rule.contains("errnoRet") && !rule["errnoRet"].is_null()) {
      converted["errnoRet"] = rule["errnoRet"];
    }
    syscalls.push_back(converted);
  }
  out["syscalls"] = syscalls;
  return out;
}

const std::set<std::string>& PodmanDefaultCaps() {
  static const std::set<std::string> kCaps = {
      "CAP_CHOWN",   "CAP_DAC_OVERRIDE",     "CAP_FOWNER",    "CAP_FSETID",
      "CAP_KILL",    "CAP_NET_BIND_SERVICE", "CAP_SETFCAP",   "CAP_SETGID",
      "CAP_SETPCAP", "CAP_SETUID",           "CAP_SYS_CHROOT"};
  return kCaps;
}

}  // namespace ubc
