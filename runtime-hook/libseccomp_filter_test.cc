// Checks merged profiles against the real libseccomp: each profile is loaded
// the way runc 1.1 loads linux.seccomp (libcontainer/seccomp/seccomp_linux.go),
// exported as BPF, and the BPF is run on a grid of x86-64 calls and compared
// with SeccompProfileModel. The unit tests in core/ reason with the model;
// this test is what ties the model to what runc actually installs.
// libseccomp's user-space API only: no filter is ever loaded into the kernel.

#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/seccomp_profile_merge.h"
#include "core/seccomp_profile_model.h"
#include "core/status.h"
#include "core/unique_fd.h"
#include "tests/unit/test_support.h"

namespace ubc {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Args = std::array<uint64_t, 6>;

const fs::path kRoot = UBC_SOURCE_ROOT;

uint32_t ActionOf(const std::string& name, const json& errno_ret) {
  const uint16_t e = errno_ret.is_number_unsigned() ? errno_ret.get<uint16_t>() : 1;  // EPERM
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(e);
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(e);
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (name == "SCMP_ACT_NOTIFY") return SCMP_ACT_NOTIFY;
  return SCMP_ACT_ALLOW;
}

scmp_compare OpOf(const std::string& op) {
  if (op == "SCMP_CMP_NE") return SCMP_CMP_NE;
  if (op == "SCMP_CMP_LT") return SCMP_CMP_LT;
  if (op == "SCMP_CMP_LE") return SCMP_CMP_LE;
  if (op == "SCMP_CMP_EQ") return SCMP_CMP_EQ;
  if (op == "SCMP_CMP_GE") return SCMP_CMP_GE;
  if (op == "SCMP_CMP_GT") return SCMP_CMP_GT;
  return SCMP_CMP_MASKED_EQ;
}

struct FilterDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

// runc's InitSeccomp: default action with defaultErrnoRet, extra
// architectures, binary-tree optimisation above 32 rules, rules equal to the
// default skipped, unknown names ignored, a repeated argument index split into
// one rule per comparison.
Result<std::vector<sock_filter>> LoadLikeRunc(const json& profile) {
  const uint32_t default_action =
      ActionOf(profile["defaultAction"], profile.value("defaultErrnoRet", json()));
  std::unique_ptr<void, FilterDeleter> ctx(seccomp_init(default_action));
  if (!ctx) return Status::Error("seccomp_init failed");
  for (const json& arch : profile.value("architectures", json::array())) {
    std::string name = arch.get<std::string>().substr(std::strlen("SCMP_ARCH_"));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const uint32_t token = seccomp_arch_resolve_name(name.c_str());
    if (token != 0 && token != seccomp_arch_native()) seccomp_arch_add(ctx.get(), token);
  }
  const json syscalls = profile.value("syscalls", json::array());
  if (syscalls.size() > 32) seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  for (const json& rule : syscalls) {
    const uint32_t action = ActionOf(rule["action"], rule.value("errnoRet", json()));
    if (action == default_action) continue;
    std::vector<scmp_arg_cmp> conditions;
    std::map<unsigned, int> per_index;
    for (const json& a : rule.value("args", json::array())) {
      conditions.push_back({a["index"].get<unsigned>(), OpOf(a["op"]),
                            a.value("value", uint64_t{0}), a.value("valueTwo", uint64_t{0})});
      ++per_index[a["index"].get<unsigned>()];
    }
    bool repeated = false;
    for (const auto& [index, count] : per_index) repeated |= count > 1;
    for (const json& name : rule["names"]) {
      const int nr = seccomp_syscall_resolve_name(name.get<std::string>().c_str());
      if (nr == __NR_SCMP_ERROR) continue;
      int rc = 0;
      if (conditions.empty()) {
        rc = seccomp_rule_add(ctx.get(), action, nr, 0);
      } else if (!repeated) {
        rc = seccomp_rule_add_array(ctx.get(), action, nr, conditions.size(), conditions.data());
      } else {
        for (const scmp_arg_cmp& c : conditions) {
          if ((rc = seccomp_rule_add_array(ctx.get(), action, nr, 1, &c)) != 0) break;
        }
      }
      if (rc != 0) {
        return Status::Error("adding a rule for " + name.get<std::string>() + ": " +
                             std::strerror(-rc));
      }
    }
  }
  UniqueFd fd(memfd_create("ubc-bpf", MFD_CLOEXEC));
  if (!fd) return Status::Error(std::string("memfd_create: ") + std::strerror(errno));
  if (int rc = seccomp_export_bpf(ctx.get(), fd.get()); rc != 0) {
    return Status::Error(std::string("seccomp_export_bpf: ") + std::strerror(-rc));
  }
  const off_t size = lseek(fd.get(), 0, SEEK_END);
  std::vector<sock_filter> program(static_cast<size_t>(size) / sizeof(sock_filter));
  if (pread(fd.get(), program.data(), static_cast<size_t>(size), 0) != size) {
    return Status::Error("reading the exported filter failed");
  }
  return program;
}

// A classic-BPF interpreter for the instructions libseccomp emits.
std::optional<uint32_t> RunFilter(const std::vector<sock_filter>& program,
                                  const seccomp_data& data) {
  uint32_t a = 0;
  uint32_t x = 0;
  uint32_t mem[BPF_MEMWORDS] = {};
  const auto* bytes = reinterpret_cast<const uint8_t*>(&data);
  for (size_t pc = 0; pc < program.size(); ++pc) {
    const sock_filter& f = program[pc];
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (f.k + 4 > sizeof(data)) return std::nullopt;
        std::memcpy(&a, bytes + f.k, 4);
        break;
      case BPF_LD | BPF_IMM:
        a = f.k;
        break;
      case BPF_LDX | BPF_IMM:
        x = f.k;
        break;
      case BPF_LD | BPF_MEM:
        a = mem[f.k % BPF_MEMWORDS];
        break;
      case BPF_LDX | BPF_MEM:
        x = mem[f.k % BPF_MEMWORDS];
        break;
      case BPF_ST:
        mem[f.k % BPF_MEMWORDS] = a;
        break;
      case BPF_STX:
        mem[f.k % BPF_MEMWORDS] = x;
        break;
      case BPF_ALU | BPF_AND | BPF_K:
        a &= f.k;
        break;
      case BPF_ALU | BPF_OR | BPF_K:
        a |= f.k;
        break;
      case BPF_MISC | BPF_TAX:
        x = a;
        break;
      case BPF_MISC | BPF_TXA:
        a = x;
        break;
      case BPF_JMP | BPF_JA:
        pc += f.k;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        pc += a == f.k ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JGT | BPF_K:
        pc += a > f.k ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JGE | BPF_K:
        pc += a >= f.k ? f.jt : f.jf;
        break;
      case BPF_JMP | BPF_JSET | BPF_K:
        pc += (a & f.k) ? f.jt : f.jf;
        break;
      case BPF_RET | BPF_K:
        return f.k;
      case BPF_RET | BPF_A:
        return a;
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

SeccompDecision DecisionOf(uint32_t ret) {
  const uint32_t data = ret & SECCOMP_RET_DATA;
  switch (ret & SECCOMP_RET_ACTION_FULL) {
    case SECCOMP_RET_KILL_PROCESS:
      return {"SCMP_ACT_KILL_PROCESS"};
    case SECCOMP_RET_KILL_THREAD:
      return {"SCMP_ACT_KILL_THREAD"};
    case SECCOMP_RET_TRAP:
      return {"SCMP_ACT_TRAP"};
    case SECCOMP_RET_ERRNO:
      return {"SCMP_ACT_ERRNO", data};
    case SECCOMP_RET_USER_NOTIF:
      return {"SCMP_ACT_NOTIFY"};
    case SECCOMP_RET_TRACE:
      return {"SCMP_ACT_TRACE", data};
    case SECCOMP_RET_LOG:
      return {"SCMP_ACT_LOG"};
    case SECCOMP_RET_ALLOW:
      return {"SCMP_ACT_ALLOW"};
  }
  return {"unknown"};
}

std::vector<Args> Grid() {
  std::vector<Args> grid;
  for (size_t i = 0; i < 6; ++i) {
    for (uint64_t v : {0ull,
                       1ull,
                       2ull,
                       3ull,
                       4ull,
                       6ull,
                       7ull,
                       8ull,
                       9ull,
                       16ull,
                       0x11ull,
                       0x12ull,
                       0x20ull,
                       0x21ull,
                       0x22ull,
                       0x32ull,
                       0x100ull,
                       0x111ull,
                       4096ull,
                       0x4022ull,
                       0x3d0f00ull,
                       0x1200011ull,
                       0x10000011ull,
                       131072ull,
                       131080ull,
                       0xffffffffull,
                       0x100000000ull,
                       0x7e020000ull,
                       0x7f0000000000ull,
                       ~0ull}) {
      Args a{};
      a[i] = v;
      grid.push_back(a);
    }
  }
  for (uint64_t addr : {0ull, 4096ull, 0x7f0000000000ull}) {
    for (uint64_t prot : {0, 1, 2, 3, 7}) {
      for (uint64_t flags : {0x01, 0x02, 0x03, 0x22, 0x21, 0x12, 0x32, 0x4022}) {
        grid.push_back({addr, 4096, prot, flags, ~0ull, 0});
      }
    }
  }
  grid.push_back({16, 0, 9, 0, 0, 0});
  grid.push_back({16, 0, 1, 0, 0, 0});
  return grid;
}

// Loads `profile` like runc, and checks every call of the grid against the
// model. Returns the number of calls compared.
int ExpectFilterMatchesModel(const json& profile, const std::string& what) {
  Result<std::vector<sock_filter>> program = LoadLikeRunc(profile);
  EXPECT_TRUE(program.ok()) << what << ": " << program.status().message();
  if (!program.ok()) return 0;
  Result<SeccompProfileModel> model = SeccompProfileModel::Create(profile);
  EXPECT_TRUE(model.ok()) << what << ": " << model.status().message();
  if (!model.ok()) return 0;
  std::set<std::string> names;
  for (const std::string& n : model->NamedSyscalls()) names.insert(n);
  for (const char* n : {"mmap", "mprotect", "brk", "mremap", "clone", "fork", "vfork", "clone3",
                        "munmap", "read"}) {
    names.insert(n);
  }
  int compared = 0;
  int mismatches = 0;
  for (const std::string& name : names) {
    const int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr < 0) continue;  // not an x86-64 syscall (libseccomp's pseudo number)
    for (const Args& args : Grid()) {
      seccomp_data data{};
      data.nr = nr;
      data.arch = AUDIT_ARCH_X86_64;
      for (size_t i = 0; i < 6; ++i) data.args[i] = args[i];
      const std::optional<uint32_t> ret = RunFilter(*program, data);
      if (!ret) {
        ADD_FAILURE() << what << ": the filter did not return for " << name;
        return compared;
      }
      const SeccompDecision expected = model->Evaluate(name, args);
      EXPECT_FALSE(expected.ambiguous) << what << ": " << name;
      SeccompDecision actual = DecisionOf(*ret);
      ++compared;
      if (!(actual == expected) && ++mismatches <= 10) {
        ADD_FAILURE() << what << ": " << name << "(" << args[0] << ", " << args[1] << ", "
                      << args[2] << ", " << args[3] << ", ...): libseccomp " << actual << ", model "
                      << expected;
      }
    }
  }
  EXPECT_EQ(mismatches, 0) << what;
  return compared;
}

json MustMerge(const json& profile) {
  Result<json> merged =
      MergeUbcNotifyRules(profile.is_null() ? nullptr : &profile, "/run/ubc/t.sock");
  EXPECT_TRUE(merged.ok()) << merged.status().message();
  return merged.ok() ? *merged : json{{"defaultAction", "SCMP_ACT_ALLOW"}};
}

json ContainersCommonProfile(const std::set<std::string>& caps) {
  const fs::path path = "/usr/share/containers/seccomp.json";
  if (!fs::exists(path)) {
    ADD_FAILURE() << path << " is missing: install golang-github-containers-common";
    return json{{"defaultAction", "SCMP_ACT_ALLOW"}};
  }
  return ConvertLikePodman(json::parse(ReadFileForTest(path)), caps);
}

TEST(LibseccompFilterTest, RealContainersCommonProfile) {
  std::set<std::string> more = PodmanDefaultCaps();
  more.insert({"CAP_SYS_ADMIN", "CAP_AUDIT_WRITE", "CAP_SYS_PTRACE"});
  for (const auto& caps : {PodmanDefaultCaps(), more}) {
    const json original = ContainersCommonProfile(caps);
    EXPECT_GT(ExpectFilterMatchesModel(original, "original"), 10000);
    EXPECT_GT(ExpectFilterMatchesModel(MustMerge(original), "merged"), 10000);
  }
}

TEST(LibseccompFilterTest, FixtureProfiles) {
  for (const char* name : {"docker_style.json", "permissive.json"}) {
    const json original =
        json::parse(ReadFileForTest(kRoot / "tests/fixtures/hook/seccomp" / name));
    ExpectFilterMatchesModel(original, std::string(name) + " original");
    ExpectFilterMatchesModel(MustMerge(original), std::string(name) + " merged");
  }
}

TEST(LibseccompFilterTest, NoProfile) {
  ExpectFilterMatchesModel(MustMerge(json()), "no profile merged");
}

// Shapes the merge produces from unusual rules: exact intersections, whole
// rules turned into notify rules, split repeated indices, LOG actions,
// dominated rules dropped, denials kept under an allowing default.
TEST(LibseccompFilterTest, UnusualRuleShapes) {
  const std::vector<std::string> profiles = {
      R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
          {"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 3, "value": 256, "op": "SCMP_CMP_LT"}]},
          {"names": ["brk"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 4096, "op": "SCMP_CMP_GE"}]},
          {"names": ["mprotect", "mremap"], "action": "SCMP_ACT_LOG", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 4096, "op": "SCMP_CMP_EQ"}]},
          {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]}]})",
      R"({"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [
          {"names": ["mmap", "mprotect"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 4096, "op": "SCMP_CMP_GE"}]},
          {"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 2, "value": 4, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
          {"names": ["read"], "action": "SCMP_ACT_ALLOW"}]})",
      R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
          {"names": ["mprotect"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [{"index": 2, "value": 4, "valueTwo": 4, "op": "SCMP_CMP_MASKED_EQ"}]},
          {"names": ["mprotect", "read"], "action": "SCMP_ACT_ALLOW"},
          {"names": ["mremap"], "action": "SCMP_ACT_KILL"},
          {"names": ["mremap"], "action": "SCMP_ACT_ALLOW"},
          {"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 140737488355328, "op": "SCMP_CMP_GE"}]}]})",
      R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
          {"names": ["mmap", "munmap"], "action": "SCMP_ACT_LOG"},
          {"names": ["clone"], "action": "SCMP_ACT_LOG", "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]},
          {"names": ["mprotect"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [{"index": 2, "value": 6, "valueTwo": 4, "op": "SCMP_CMP_MASKED_EQ"}]},
          {"names": ["fork"], "action": "SCMP_ACT_ERRNO", "errnoRet": 11}]})",
  };
  for (size_t i = 0; i < profiles.size(); ++i) {
    const json merged = MustMerge(json::parse(profiles[i]));
    ExpectFilterMatchesModel(merged, "profile " + std::to_string(i) + " merged");
  }
}

// What the merged filter does with an i386 call (`int $0x80`): registers are
// 32 bits wide, numbers are i386's, and libseccomp resolves each rule's name
// for the X86 architecture too. The model knows x86-64 only, so the expected
// outcome is stated here: every call that can charge is handed to ubcd.
std::string I386Outcome(const std::vector<sock_filter>& program, int nr, const Args& args) {
  seccomp_data data{};
  data.nr = nr;
  data.arch = AUDIT_ARCH_I386;
  for (size_t i = 0; i < 6; ++i) data.args[i] = args[i] & 0xffffffffu;
  const std::optional<uint32_t> ret = RunFilter(program, data);
  return ret ? DecisionOf(*ret).action : "no result";
}

TEST(LibseccompFilterTest, I386MemoryCallsAreTrappedWithTheirOwnNumbers) {
  const json docker_style =
      json::parse(ReadFileForTest(kRoot / "tests/fixtures/hook/seccomp/docker_style.json"));
  for (const json& original :
       {json(), docker_style, ContainersCommonProfile(PodmanDefaultCaps())}) {
    const std::string which =
        original.is_null() ? "no profile" : original.value("defaultAction", "");
    Result<std::vector<sock_filter>> before = LoadLikeRunc(
        original.is_null() ? json{{"defaultAction", "SCMP_ACT_ALLOW"},
                                  {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}}}
                           : original);
    Result<std::vector<sock_filter>> after = LoadLikeRunc(MustMerge(original));
    ASSERT_TRUE(before.ok() && after.ok()) << which;
    // A call the profile allowed and that can charge is handed to ubcd; one
    // that cannot charge keeps the profile's answer; a denial stays.
    auto expect = [&](int nr, const Args& args, bool can_charge) {
      const std::string was = I386Outcome(*before, nr, args);
      const std::string is = I386Outcome(*after, nr, args);
      if (was == "SCMP_ACT_ALLOW" && can_charge) {
        EXPECT_EQ(is, "SCMP_ACT_NOTIFY") << which << " nr " << nr << " a2 " << args[2];
      } else {
        EXPECT_EQ(is, was) << which << " nr " << nr << " a2 " << args[2];
      }
    };
    int old_mmaps = 0;
    for (const Args& args : Grid()) {
      // old_mmap (90) reads its arguments from memory: whatever the registers
      // say, ubcd must see it (and refuses it).
      expect(90, args, true);
      ++old_mmaps;
    }
    EXPECT_GT(old_mmaps, 100);
    EXPECT_EQ(I386Outcome(*after, 90, {}), "SCMP_ACT_NOTIFY") << which;
    constexpr uint64_t kRw = 3, kPrivAnon = 0x22, kSharedFile = 0x01;
    expect(192, {0, 4096, kRw, kPrivAnon, ~0ull, 0}, true);  // mmap2
    expect(192, {0, 4096, 1, kPrivAnon, ~0ull, 0}, false);
    expect(192, {0, 4096, kRw, kSharedFile, 3, 0}, false);
    expect(125, {0x10000, 4096, kRw, 0, 0, 0}, true);  // mprotect
    EXPECT_EQ(I386Outcome(*after, 125, {0x10000, 4096, kRw, 0, 0, 0}), "SCMP_ACT_NOTIFY") << which;
    expect(125, {0x10000, 4096, 1, 0, 0, 0}, false);
    expect(380, {0x10000, 4096, kRw, 0, 0, 0}, true);   // pkey_mprotect
    expect(45, {0x10000, 0, 0, 0, 0, 0}, true);         // brk
    expect(163, {0x10000, 4096, 8192, 1, 0, 0}, true);  // mremap
    expect(120, {0x11, 0, 0, 0, 0, 0}, true);           // clone without CLONE_VM
    expect(2, {}, true);                                // fork
    expect(11, {}, true);                               // execve
  }
}

TEST(LibseccompFilterTest, X86_64PkeyMprotectIsTrappedLikeMprotect) {
  Result<std::vector<sock_filter>> program = LoadLikeRunc(MustMerge(json()));
  ASSERT_TRUE(program.ok());
  seccomp_data data{};
  data.nr = 329;
  data.arch = AUDIT_ARCH_X86_64;
  data.args[0] = 0x7f0000000000;
  data.args[1] = 4096;
  data.args[2] = 3;
  EXPECT_EQ(DecisionOf(*RunFilter(*program, data)).action, "SCMP_ACT_NOTIFY");
  data.args[2] = 1;
  EXPECT_EQ(DecisionOf(*RunFilter(*program, data)).action, "SCMP_ACT_ALLOW");
}

}  // namespace
}  // namespace ubc
