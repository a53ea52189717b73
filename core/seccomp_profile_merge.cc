#include "core/seccomp_profile_merge.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/seccomp_rule.h"

namespace ubc {
namespace {

using nlohmann::json;

constexpr uint32_t kEnosys = 38;  // clone3's answer, as in Docker's default profile

// x86-64 values of the flags the cells test.
constexpr uint64_t kProtWrite = 0x2;
constexpr uint64_t kMapPrivate = 0x02;
constexpr uint64_t kMapAnonymous = 0x20;
constexpr uint64_t kMapGrowsDown = 0x100;
constexpr uint64_t kMapLocked = 0x2000;
constexpr uint64_t kCloneVm = 0x100;
constexpr uint64_t kHighHalf = uint64_t{1} << 63;

// A memory syscall and its argument cells: disjoint, and together covering
// every call. NOTIFY cells are the accountable calls.
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
      // MAP_LOCKED: lockedpages, whatever privvmpages makes of the mapping.
      {true, {MaskedEq(2, kProtWrite, 0), MaskedEq(3, kMapGrowsDown | kMapLocked, kMapLocked)}},
      {false, {MaskedEq(2, kProtWrite, 0), MaskedEq(3, kMapGrowsDown | kMapLocked, 0)}},
      {true,
       {MaskedEq(2, kProtWrite, kProtWrite),
        MaskedEq(3, kMapPrivate | kMapAnonymous | kMapLocked, kMapLocked)}},
      {false,
       {MaskedEq(2, kProtWrite, kProtWrite),
        MaskedEq(3, kMapPrivate | kMapAnonymous | kMapLocked, 0)}}};
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
      // shmpages: every shmget (ubcd tells creations from opens), and i386's
      // ipc multiplexer whole: its call number is the low 16 bits of a
      // register a rule would compare in full.
      {"shmget", {{true, {}}}},
      {"ipc", {{true, {}}}},
      // lockedpages. munlock only releases (VmLck is read after it);
      // munlockall ends MCL_FUTURE. shmctl whole: its cmd is an int, and
      // a masked comparison has no complement cell to let the rest through
      // untrapped (it is rare and cheap to continue).
      {"mlock", {{true, {}}}},
      {"mlock2", {{true, {}}}},
      {"mlockall", {{true, {}}}},
      {"munlockall", {{true, {}}}},
      {"shmctl", {{true, {}}}},
  };
  return kSyscalls;
}

// Where ubcd enforces numproc itself: every clone and vfork.
const std::vector<MemorySyscall>& TaskSyscalls() {
  static const std::vector<MemorySyscall> kSyscalls = {
      {"clone", {{true, {}}}},
      {"vfork", {{true, {}}}},
  };
  return kSyscalls;
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

Result<json> MergeUbcNotifyRules(const json* existing_linux_seccomp, std::string_view listener_path,
                                 const MergeOptions& options) {
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
    if (options.trap_task_creation && (sys.name == "clone")) continue;
    if (Status s = merger.MergeSyscall(sys); !s.ok()) return s;
  }
  if (options.trap_sysinfo) {
    static const MemorySyscall kSysinfo = {"sysinfo", {{true, {}}}};
    if (Status s = merger.MergeSyscall(kSysinfo); !s.ok()) return s;
  }
  if (options.trap_task_creation) {
    // numproc without a pids cgroup: ubcd counts every new task, threads
    // and vforks too.
    for (const MemorySyscall& sys : TaskSyscalls()) {
      if (Status s = merger.MergeSyscall(sys); !s.ok()) return s;
    }
  }
  profile["syscalls"] = merger.Syscalls();
  profile["listenerPath"] = listener_path;
  return profile;
}

}  // namespace ubc
